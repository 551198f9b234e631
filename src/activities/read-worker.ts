// Worker thread of the read pool: reads the headers of a slice of files per message.
import { parentPort } from 'worker_threads';
import { readDicomFileSync } from '../dicom/read';
import type { ReadJob } from './read-pool';

parentPort!.on('message', ({ files, withMeta }: ReadJob) => {
  parentPort!.postMessage(files.map((file) => readDicomFileSync(file, { withMeta })));
});
