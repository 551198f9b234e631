// Queries and signals of the workflows, shared by the workflows and the client.
import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { ExportProgress, Progress } from './types';
import { PROGRESS_QUERY } from '../contract';

/** Live progress of an ingestDataset run: stage, counts, timings. */
export const progressQuery = defineQuery<Progress>(PROGRESS_QUERY);
/** Sent by the processBatches children after each batch, so `progress` counts files as they go. */
export const batchDoneSignal = defineSignal<[{ stage: 'validate' | 'metadata'; processed: number; invalid: number }]>('batchDone');
/** Live progress of an exportDataset run (the same query name as ingest's). */
export const exportProgressQuery = defineQuery<ExportProgress>(PROGRESS_QUERY);
