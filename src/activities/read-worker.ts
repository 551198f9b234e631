// Worker thread of the read pool: reads a slice of candidate files per message and returns their output lines.
import { parentPort } from 'worker_threads';
import { readLine } from './read-lines';
import type { ReadJob } from './read-pool';

parentPort!.on('message', ({ entries, stage }: ReadJob) => {
  parentPort!.postMessage(entries.map((entry) => readLine(entry, stage)));
});
