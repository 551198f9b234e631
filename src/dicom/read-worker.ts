// Worker thread of the read pool: reads a slice of candidate files per message and returns their output lines.
import { parentPort } from 'worker_threads';
import { headerLines } from './header-lines';
import type { EntryRecord } from '../records';

parentPort!.on('message', (entries: EntryRecord[]) => {
  parentPort!.postMessage(entries.map(headerLines));
});
