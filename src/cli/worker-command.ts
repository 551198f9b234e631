/** `dicomflow worker`: a long-running worker for an external Temporal cluster (TEMPORAL_ADDRESS). */
import { NativeConnection } from '@temporalio/worker';
import { createWorker, DEFAULT_TASK_QUEUE } from '../worker';
import { UsageError } from '../client/source';

export async function runWorker(opts: { taskQueue?: string }): Promise<number> {
  const address = process.env.TEMPORAL_ADDRESS;
  if (!address) throw new UsageError('dicomflow worker needs TEMPORAL_ADDRESS (host:port of the Temporal frontend)');
  const namespace = process.env.TEMPORAL_NAMESPACE ?? 'default';
  const taskQueue = opts.taskQueue ?? process.env.DICOMFLOW_TASK_QUEUE ?? DEFAULT_TASK_QUEUE;
  const connection = await NativeConnection.connect({ address });
  const worker = await createWorker({ connection, namespace, taskQueue });
  process.stdout.write(`dicomflow worker polling ${address} namespace ${namespace} task queue ${taskQueue} (Ctrl-C stops it)\n`);
  await worker.run(); // the SDK shuts down gracefully on SIGINT/SIGTERM
  await connection.close();
  return 0;
}
