// Worker thread of the read pool: reads one file's header per message.
import { parentPort } from 'worker_threads';
import { readDicomFile } from '../dicom/read';

parentPort!.on('message', async ({ file, withMeta }: { file: string; withMeta: boolean }) => {
  parentPort!.postMessage(await readDicomFile(file, { withMeta }));
});
