/**
 * load database: the run's instances, outcomes and series issues into the SQL catalog.
 * A thin wrapper over src/db/load.ts: heartbeats the cursor after each commit (and between commits, to show it
 * is alive) and resumes from it on a retry (upserts make rows re-sent after the last heartbeat harmless).
 */
import * as fs from 'fs';
import { ApplicationFailure } from '@temporalio/activity';
import * as os from 'os';
import { catalogTarget, describeDb, openCatalog, releaseCatalog } from '../db/catalog';
import { DB_URL_ENV, hasPassword } from '../db/credentials';
import { loadCatalog, type LoadCursor } from '../db/load';
import { workspace } from '../workspace';
import { withPath } from '../io/errors';
import { heartbeat } from './heartbeat';

export interface LoadInput {
  outDir: string;
  /** The catalog's URL without its password (the worker knows it, see db/credentials.ts); none: DIR/dicom.db. */
  dbUrl?: string;
  runId: string;
  /** What the run ingested, recorded in the runs table. */
  source?: string;
  /** The run's scratch key (scratchKey in contract.ts); absent for runs of the shared layout. */
  runKey?: string;
}

export interface LoadResult {
  instances: number;
  validationRows: number;
  seriesIssues: number;
}

/** Heartbeat details: the committed cursor, and what the load waits for when it waits (shown on the progress line). */
export type LoadHeartbeat = LoadCursor & { waiting?: string };

export async function loadDatabase(input: LoadInput): Promise<LoadResult> {
  const hb = heartbeat<LoadHeartbeat>();
  const ws = workspace(input.outDir, input.runKey);
  // Missing stage outputs will not appear by retrying: say so once.
  const missing = [ws.instances, ws.outcomes, ws.seriesIssues].filter((f) => !fs.existsSync(f));
  if (missing.length > 0) {
    throw ApplicationFailure.nonRetryable(`load database: organize output missing: ${missing.join(', ')}`, 'MissingStageOutput');
  }

  /** The cursor this attempt committed last (liveness heartbeats between commits repeat it). */
  let committed: LoadCursor | undefined;
  /** A waiting heartbeat was sent and not yet replaced. */
  let waited = false;
  const cursorNow = (): LoadCursor => ({ instances: 0, outcomes: 0, seriesIssues: 0, ...resumedCursor(hb.resumed), ...committed });
  const db = await openCatalog({ outDir: input.outDir, dbUrl: input.dbUrl }).catch((err) => {
    throw asFailure(err, input, 'open');
  });
  try {
    return await loadCatalog(db, {
      outDir: input.outDir,
      runKey: input.runKey,
      runId: input.runId,
      source: input.source,
      cursor: resumedCursor(hb.resumed),
      onWait: (waiting) => {
        waited = true;
        hb.beat({ ...cursorNow(), waiting });
        hb.throwIfCancelled();
      },
      onProgress: (done) => {
        committed = done;
        waited = false;
        hb.beat(done, true);
        // A cancelled workflow stops the load between commits (everything so far is committed).
        hb.throwIfCancelled();
      },
      onStatement: () => {
        // The lock is ours: the progress line stops saying the load waits.
        if (waited) hb.beat(cursorNow(), true);
        else if (committed) hb.beat(committed);
        waited = false;
      },
    });
  } catch (err) {
    throw asFailure(err, input, 'load');
  } finally {
    await releaseCatalog(db, input.outDir);
  }
}

/** The counts of an earlier attempt's heartbeat (not what it was waiting for). */
function resumedCursor(details: LoadHeartbeat | undefined): Partial<LoadCursor> | undefined {
  if (!details) return undefined;
  const cursor: Partial<LoadCursor> = {};
  for (const key of ['instances', 'outcomes', 'seriesIssues'] as const) if (typeof details[key] === 'number') cursor[key] = details[key];
  return cursor;
}
/** Network and server-state codes of a database that is down, restarting or not reachable. */
const UNREACHABLE = /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN|EPIPE|57P0[1-3]|08[0-9A-Z]{3})$/;

/** PostgreSQL errors no retry can fix: on opening, bad password, unknown role or missing database. */
const PERMANENT_PG_OPEN = new Set(['28P01', '28000', '3D000']);
/** While loading: the database refuses the data itself (PostgreSQL classes 22 and 23, SQLite constraints). */
const PERMANENT_LOAD = /^(22|23)[0-9A-Z]{3}$|^SQLITE_(CONSTRAINT|MISMATCH|TOOBIG)/;

/**
 * Permanent causes fail the activity at once with a clear message; the rest (server down, a lock,
 * a dropped connection, a cancellation) are passed on unchanged and retried by Temporal's policy.
 */
export function asFailure(err: unknown, input: Pick<LoadInput, 'outDir' | 'dbUrl'>, stage: 'open' | 'load'): unknown {
  let where: string;
  let target: ReturnType<typeof catalogTarget>;
  try {
    target = catalogTarget(input);
    where = describeDb(input);
  } catch (badUrl) {
    return ApplicationFailure.nonRetryable((badUrl as Error).message, 'BadDatabaseUrl');
  }
  const code = String((err as { code?: unknown })?.code ?? '');
  const message = (err as Error)?.message ?? String(err);
  if (stage === 'open' && target.dialect === 'postgres' && !hasPassword(target.url) && !process.env.PGPASSWORD && (code === '28P01' || /password/i.test(message))) {
    return ApplicationFailure.nonRetryable(
      `cannot open the catalog ${where}: ${message}; this worker (${os.hostname()}:${process.pid}) has no password for it: ` +
        `start it with ${DB_URL_ENV}=<the full URL, password included> (or PGPASSWORD, or ~/.pgpass)`,
      'CatalogPasswordMissing',
    );
  }
  // A full or read-only disk under the SQLite file: named with its path (the worker's interceptor reports it).
  if (target.dialect === 'sqlite' && /^SQLITE_(FULL|READONLY|CANTOPEN|IOERR)/.test(code)) return withPath(err, target.file);
  // The database cannot be reached: retried (for about half an hour), the cause on the progress line.
  if (UNREACHABLE.test(code) || /Connection terminated|Timeout acquiring a connection/i.test(message)) {
    return ApplicationFailure.retryable(`database unreachable: ${code || message} (${where})`, 'CatalogUnreachable');
  }
  if (stage === 'open' && PERMANENT_PG_OPEN.has(code)) {
    return ApplicationFailure.nonRetryable(`cannot open the catalog ${where}: ${message}`, 'CatalogUnavailable');
  }
  if (stage === 'load' && PERMANENT_LOAD.test(code)) {
    return ApplicationFailure.nonRetryable(`the catalog ${where} refused a row: ${message}`, 'CatalogRefusedData');
  }
  return err;
}
