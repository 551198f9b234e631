/** The dicomflow worker: the workflows plus one activity module per stage, on one task queue. */
import * as fs from 'fs';
import * as path from 'path';
import { NativeConnection, Worker } from '@temporalio/worker';
import type { PayloadCodec } from '@temporalio/common';
import * as activities from '../activities';
import { activityLog } from './activity-log';
import { DEFAULT_TASK_QUEUE } from '../contract';
import { startZipPool } from '../io/zip';
import { startReadPool } from '../dicom/read-pool';
import { loadKnex } from '../db/catalog';
import { loadResvg } from '../report/png';

export { DEFAULT_TASK_QUEUE };

/** Prebuilt by `npm run build` (src/worker/bundle.ts), so a worker starts in a second instead of bundling. */
const PREBUILT_BUNDLE = path.resolve(__dirname, '../workflow-bundle.js');

/** `codec` encrypts every payload (src/temporal/codec.ts): the client of the runs must use the same keys. */
export async function createWorker(opts: { connection: NativeConnection; namespace?: string; taskQueue?: string; codec: PayloadCodec }): Promise<Worker> {
  // The thread pools start now, loading their code while the worker starts and the first stages run.
  startZipPool();
  startReadPool();
  const workflows = fs.existsSync(PREBUILT_BUNDLE) ? { workflowBundle: { codePath: PREBUILT_BUNDLE } } : { workflowsPath: require.resolve('../workflows') };
  const worker = await Worker.create({
    connection: opts.connection,
    namespace: opts.namespace ?? 'default',
    taskQueue: opts.taskQueue ?? DEFAULT_TASK_QUEUE,
    ...workflows,
    activities,
    dataConverter: { payloadCodecs: [opts.codec] },
    interceptors: { activity: [activityLog] },
    // Batch activities share a thread pool that uses every core; a few in flight keep it fed.
    // DICOMFLOW_MAX_ACTIVITIES lowers it, e.g. to spread one run's batches evenly over many small workers.
    maxConcurrentActivityTaskExecutions: Number(process.env.DICOMFLOW_MAX_ACTIVITIES) || 8,
    // Heartbeats reach the server every two seconds at most: the progress line reads them (rate, time left).
    maxHeartbeatThrottleInterval: '2 seconds',
    defaultHeartbeatThrottleInterval: '2 seconds',
  });
  // The catalog's knex and the charts' renderer are first needed a few stages in: loaded just after the worker is
  // ready, while its first task runs on the pools' threads, not before it can take one (a cold ingest's start).
  setTimeout(() => {
    loadKnex();
    loadResvg();
  }, 100).unref();
  return worker;
}
