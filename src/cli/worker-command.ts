/**
 * `dicomflow worker`: a long-running worker process.
 * - With TEMPORAL_ADDRESS: a worker of that Temporal cluster (any number of them, on any hosts that see DIR).
 * - Without it, `--out DIR`: a worker of DIR's local Temporal server (started if needed, as `dicomflow server
 *   start --out DIR` does), so `TEMPORAL_ADDRESS=<its address> dicomflow ingest ... --out DIR` runs as a pure client.
 */
import * as path from 'path';
import { NativeConnection } from '@temporalio/worker';
import { createWorker } from '../worker';
import { DEFAULT_TASK_QUEUE } from '../contract';
import { UsageError } from '../client/source';
import { loadCodec } from '../temporal/codec';

export async function runWorker(opts: { taskQueue?: string; outDir?: string }): Promise<number> {
  let address = process.env.TEMPORAL_ADDRESS;
  let where = '';
  let keysOf: string | undefined; // DIR whose embedded key the worker may use
  if (address) {
    if (opts.outDir) process.stderr.write('dicomflow worker: TEMPORAL_ADDRESS is set, so --out is not used (the worker joins that cluster)\n');
  } else if (opts.outDir) {
    const outDir = path.resolve(opts.outDir);
    const { ensureDevServer } = await import('../temporal/dev-server');
    const server = await ensureDevServer(outDir, (m) => process.stderr.write(m + '\n'));
    address = server.address;
    keysOf = outDir;
    where = ` (the local Temporal server of ${outDir}, Web UI ${server.uiUrl})`;
  } else {
    throw new UsageError(
      'dicomflow worker needs TEMPORAL_ADDRESS (host:port of the Temporal frontend), or --out DIR to work for the local Temporal server of DIR',
    );
  }
  const namespace = process.env.TEMPORAL_NAMESPACE ?? 'default';
  const taskQueue = opts.taskQueue ?? process.env.DICOMFLOW_TASK_QUEUE ?? DEFAULT_TASK_QUEUE;
  // Payloads are encrypted: $DICOMFLOW_CODEC_KEY_FILE / $DICOMFLOW_CODEC_KEY, else the key of DIR's local server.
  const codec = loadCodec({ outDir: keysOf, create: keysOf !== undefined });
  const connection = await NativeConnection.connect({ address });
  const worker = await createWorker({ connection, namespace, taskQueue, codec });
  process.stdout.write(`dicomflow worker polling ${address} namespace ${namespace} task queue ${taskQueue}${where} (Ctrl-C stops it)\n`);
  await worker.run(); // the SDK shuts down gracefully on SIGINT/SIGTERM
  await (await import('../background')).backgroundDone(); // scratch still being deleted, catalogs still closing
  await connection.close();
  return 0;
}
