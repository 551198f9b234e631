// Worker thread of the read pool: reads a slice of candidate files per message and answers with their output,
// as lines or as encoded bytes whose memory moves to the other thread (transferred, not copied).
import { parentPort } from 'worker_threads';
import { headerLines, readEncodedHeaders, type ReadJob } from './header-lines';

parentPort!.on('message', ({ entries, encode }: ReadJob) => {
  if (!encode) return parentPort!.postMessage(entries.map(headerLines));
  const encoded = readEncodedHeaders(entries);
  parentPort!.postMessage(encoded, [encoded.validate.buffer, encoded.metadata.buffer] as ArrayBuffer[]);
});
