/**
 * load database: the run's instances, outcomes and series issues into the SQL catalog.
 * A thin wrapper over src/db/load.ts: heartbeats the cursor after each committed batch and resumes
 * from it on a retry (upserts make rows re-sent after the last heartbeat harmless).
 */
import * as fs from 'fs';
import { ApplicationFailure, Context } from '@temporalio/activity';
import { catalogTarget, describeDb, openCatalog } from '../db/catalog';
import { loadCatalog, type LoadCursor } from '../db/load';
import { workspace } from '../workspace';

export interface LoadInput {
  outDir: string;
  dbUrl?: string;
  runId: string;
  /** What the run ingested, recorded in the runs table. */
  source?: string;
}

export interface LoadResult {
  instances: number;
  validationRows: number;
  seriesIssues: number;
}

export async function loadDatabase(input: LoadInput): Promise<LoadResult> {
  const ctx = Context.current();
  const ws = workspace(input.outDir);
  // Missing stage outputs will not appear by retrying: say so once.
  const missing = [ws.instances, ws.outcomes, ws.seriesIssues].filter((f) => !fs.existsSync(f));
  if (missing.length > 0) {
    throw ApplicationFailure.nonRetryable(`load database: organize output missing: ${missing.join(', ')}`, 'MissingStageOutput');
  }

  const cursor = ctx.info.heartbeatDetails as Partial<LoadCursor> | undefined;
  const db = await openCatalog({ outDir: input.outDir, dbUrl: input.dbUrl }).catch((err) => {
    throw asFailure(err, input);
  });
  try {
    return await loadCatalog(db, {
      outDir: input.outDir,
      runId: input.runId,
      source: input.source,
      cursor,
      onProgress: (done) => {
        ctx.heartbeat(done);
        // A cancelled workflow stops the load between batches (everything so far is committed).
        ctx.cancellationSignal.throwIfAborted();
      },
    });
  } finally {
    await db.destroy();
  }
}

/** PostgreSQL errors that no retry can fix: bad password, unknown role, missing database. */
const PERMANENT_PG_CODES = new Set(['28P01', '28000', '3D000']);

/** A catalog that cannot be opened: permanent causes fail at once, the rest (server down) retry. */
function asFailure(err: unknown, input: LoadInput): unknown {
  let where: string;
  try {
    catalogTarget(input);
    where = describeDb(input);
  } catch (badUrl) {
    return ApplicationFailure.nonRetryable((badUrl as Error).message, 'BadDatabaseUrl');
  }
  const code = (err as { code?: string }).code;
  if (code && PERMANENT_PG_CODES.has(code)) {
    return ApplicationFailure.nonRetryable(`cannot open the catalog ${where}: ${(err as Error).message}`, 'CatalogUnavailable');
  }
  return err;
}
