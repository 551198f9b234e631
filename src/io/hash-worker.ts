// Worker thread of the hash pool: the SHA-256 of each small file of a job (sha256.ts).
import { parentPort } from 'worker_threads';
import { sha256SmallFiles } from './sha256';

parentPort!.on('message', (files: (string | null)[]) => {
  parentPort!.postMessage(sha256SmallFiles(files));
});
