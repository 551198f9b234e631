// Worker thread of the placement pool: places a chunk of files into the tree (place.ts) while organize's own thread
// reads and writes the records of the next chunk.
import { parentPort } from 'worker_threads';
import { placeChunk, type PlaceJob } from './place';

parentPort!.on('message', (job: PlaceJob) => {
  parentPort!.postMessage(placeChunk(job));
});
