// Worker thread of the zip pool: inflates and writes one batch of entries per message (zip-inflate.ts).
import { parentPort } from 'worker_threads';
import { inflateBatch, type InflateBatch } from './zip-inflate';

parentPort!.on('message', (batch: InflateBatch) => {
  parentPort!.postMessage(inflateBatch(batch));
});
