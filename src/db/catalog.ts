/**
 * Opening the SQL catalog: SQLite at DIR/dicom.db by default, or whatever `--db URL` names.
 * The same knex migrations give the same schema on both dialects.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { Knex } from 'knex';
import { inBackground } from '../background';
import { logEvent } from '../log';
import { workspace } from '../workspace';
import { migrationSource } from './migrations';
import { resolveDbUrl } from './credentials';

export interface CatalogOptions {
  /** Output folder DIR; its dicom.db is the default catalog. */
  outDir?: string;
  /** 'sqlite:///abs/path.db', a path ending in .db/.sqlite/.sqlite3, or 'postgres(ql)://...' */
  dbUrl?: string;
}

export type CatalogTarget = { dialect: 'sqlite'; file: string } | { dialect: 'postgres'; url: string };

/** Which database the options name. Throws a clear error for a URL we cannot use. */
export function catalogTarget(opts: CatalogOptions): CatalogTarget {
  const url = opts.dbUrl?.trim();
  if (!url) {
    if (!opts.outDir) throw new Error('No catalog: give an output folder (--out DIR) or a database URL (--db URL).');
    return { dialect: 'sqlite', file: workspace(opts.outDir).dbFile };
  }
  // A payload's URL has no password: this worker puts back the one its configuration holds (db/credentials.ts).
  if (/^postgres(ql)?:\/\//i.test(url)) return { dialect: 'postgres', url: resolveDbUrl(url) };
  if (/^sqlite:/i.test(url)) {
    // sqlite:///abs/path.db → /abs/path.db; sqlite://rel.db or sqlite:rel.db → rel.db
    const rest = url.replace(/^sqlite:/i, '');
    const file = rest.startsWith('///') ? rest.slice(2) : rest.replace(/^\/\//, '');
    if (!file) throw new Error(`Database URL ${url} names no file.`);
    return { dialect: 'sqlite', file: path.resolve(file) };
  }
  if (/\.(db|sqlite|sqlite3)$/i.test(url) && !/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) {
    return { dialect: 'sqlite', file: path.resolve(url) };
  }
  throw new Error(
    `Unsupported database URL "${maskPassword(url)}": use postgres://user:pass@host:port/db, ` +
      'sqlite:///absolute/path.db or a file path ending in .db',
  );
}

function maskPassword(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@]*:)[^@]*@/i, '$1***@');
}

/** The catalog for printing: the SQLite file, or the PostgreSQL URL with its password masked. */
export function describeDb(opts: CatalogOptions): string {
  const target = catalogTarget(opts);
  return target.dialect === 'sqlite' ? `SQLite ${target.file}` : `PostgreSQL ${maskPassword(target.url)}`;
}

// pg returns bigint (COUNT(*), file_size) and numeric as strings; our values fit a JS number.
const INT8_OID = 20;
const NUMERIC_OID = 1700;
const pgTypes = {
  getTypeParser(oid: number, format?: string) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const types = require('pg').types;
    if (oid === INT8_OID || oid === NUMERIC_OID) return (value: string) => Number(value);
    return types.getTypeParser(oid, format);
  },
};

// knex prints these before the call that hit them rejects: only noise for us.
const QUIET = /^(Acquire connection error|Can't take lock to run migrations|If you are sure migrations are not running)/;
const log = {
  warn(message: unknown) {
    // Reported by the failing call itself (connection errors) or handled by migrate() (lock races).
    if (typeof message === 'string' && QUIET.test(message)) return;
    console.warn(message);
  },
};

/**
 * SQLite page size of a new catalog (an existing one keeps its own): rows carry their header JSON (a few KB each), and
 * with 16 KB pages a load writes fewer, fuller pages than with the default 4 KB (set 2's load: 0.85 -> 0.70 s, the
 * fold of its log 0.45 -> 0.27 s).
 */
const PAGE_SIZE = 16384;

/**
 * Pages of SQLite's write-ahead log before a commit folds it into dicom.db (256 MB with a new catalog's 16 KB pages,
 * 64 MB with older 4 KB ones; SQLite's default is 1,000): a load of tens of thousands of files commits without
 * folding it in halfway (set 2's load: 1.2 -> 0.85 s).
 */
const WAL_PAGES = 16384;

/**
 * knex, loaded on first use (with lodash and its drivers' helpers it costs ~60 ms of loading): a worker takes its
 * first task without it, and loads it while the first stages run (src/worker/index.ts).
 */
export function loadKnex(): typeof import('knex').knex {
  return (require('knex') as typeof import('knex')).knex;
}

/** A knex instance on the catalog, without touching the schema (db check inspects it as it is). */
export function connectCatalog(opts: CatalogOptions): Knex {
  const target = catalogTarget(opts);
  if (target.dialect === 'postgres') {
    return loadKnex()({
      client: 'pg',
      connection: { connectionString: target.url, types: pgTypes } as Knex.PgConnectionConfig,
      pool: { min: 0, max: 4 },
      log,
    });
  }
  fs.mkdirSync(path.dirname(target.file), { recursive: true });
  return loadKnex()({
    // sqlite3, not better-sqlite3: measured the same speed through knex (see src/db/README.md), and its
    // queries run off the event loop, so a worker keeps heartbeating and serving other activities while it loads.
    client: 'sqlite3',
    connection: { filename: target.file },
    useNullAsDefault: true,
    log,
    pool: {
      afterCreate(conn: { exec(sql: string, cb: (err: Error | null) => void): void }, done: (err: Error | null, conn: unknown) => void) {
        // WAL: readers (report, db check) never block the loader; NORMAL is durable enough under WAL. The log is
        // folded into dicom.db when the connection closes (releaseCatalog: after the run's next stage, or 2 s after
        // the activity reported), not by the commit that passes 1,000 pages: marking 101,000 files seen took 0.47 s
        // with that checkpoint, 0.25 s without; nor halfway through a load (WAL_PAGES).
        conn.exec(`PRAGMA page_size = ${PAGE_SIZE}; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 10000; PRAGMA wal_autocheckpoint = ${WAL_PAGES};`, (err) => done(err, conn));
      },
    },
  });
}

// Another worker migrating the same catalog at the same moment: wait and look again.
const MIGRATION_RACE = /already locked|already exists|duplicate key|database is locked|SQLITE_BUSY/i;

/**
 * How long a worker waits for another one's migration of the same catalog. A deadline, not a number of tries: on a
 * loaded machine one SQLite migration behind busy readers took longer than 20 tries (about 10 s).
 */
const MIGRATION_WAIT_MS = 60_000;
/** A migration lock held this long is a stale one (see migrate). */
const STALE_LOCK_MS = 5_000;

async function migrate(db: Knex): Promise<void> {
  const deadline = Date.now() + MIGRATION_WAIT_MS;
  let lockedSince: number | undefined;
  for (let attempt = 1; ; attempt++) {
    try {
      const [, pending] = await db.migrate.list({ migrationSource });
      if (pending.length > 0) await db.migrate.latest({ migrationSource });
      return;
    } catch (err) {
      const message = String((err as Error).message);
      if (Date.now() > deadline || !MIGRATION_RACE.test(message)) throw err;
      if (/already locked/i.test(message)) {
        lockedSince ??= Date.now();
        // Our migration takes well under a second. A lock held much longer was left by a migration that failed
        // (SQLite answers SQLITE_BUSY at once to a write it would deadlock on, and knex's unlock can fail the same
        // way): free it and try again. Racing migrations are safe: each runs in a transaction.
        if (Date.now() - lockedSince > STALE_LOCK_MS) {
          await db.migrate.forceFreeMigrationsLock({ migrationSource }).catch(() => undefined);
          lockedSince = undefined;
        }
      } else lockedSince = undefined;
      await new Promise((resolve) => setTimeout(resolve, Math.min(50 * attempt, 1000) + Math.random() * 50));
    }
  }
}

/** A migrated knex instance on the catalog. The caller must `destroy()` it (or hand it to releaseCatalog). */
export async function openCatalog(opts: CatalogOptions): Promise<Knex> {
  const target = catalogTarget(opts);
  const kept = target.dialect === 'sqlite' ? keptOpen.get(target.file) : undefined;
  if (kept) {
    const db = kept.take();
    // A stage that failed part way left nothing open on it, unless its own ROLLBACK failed too: none is left here.
    await db.raw('ROLLBACK').catch(() => undefined);
    return db;
  }
  const db = connectCatalog(opts);
  try {
    await migrate(db);
  } catch (err) {
    await db.destroy();
    throw err;
  }
  return db;
}

/**
 * How long a released SQLite catalog stays open for the run's next stage. Its close folds the write-ahead log into
 * dicom.db; when that ran while the next stage wrote (the file catalog right after the load), both slowed down: set 2's
 * file catalog took 0.57 s beside the fold of the load's log, 0.21 s after it.
 */
const KEEP_OPEN_MS = 2000;

/** Released SQLite catalogs kept open, by file: at most one each, taken whole by the next openCatalog of that file. */
const keptOpen = new Map<string, { take: () => Knex }>();

/**
 * Closes a catalog an activity wrote to without waiting: on SQLite the last connection's close folds the write-ahead
 * log into dicom.db (a tenth of a second or more for a big load), which then runs while the workflow goes on; the
 * command waits for it before it exits (backgroundDone). What the activity committed is in the log already, and every
 * reader sees it. An SQLite catalog is kept open for KEEP_OPEN_MS first, and the next stage that opens the same file
 * in that time takes it as it is (migrated; its log not folded in yet); backgroundDone closes it at once. PostgreSQL's
 * pool is closed at once.
 */
export async function releaseCatalog(db: Knex, outDir: string): Promise<void> {
  if (isPostgres(db)) return db.destroy();
  const file = String((db.client.config.connection as { filename: string }).filename);
  const close = () => closeInTurn(file, () => db.destroy().catch((err: Error) => logEvent(outDir, 'warn', 'catalog', 'closing the catalog failed', { error: err.message })));
  if (keptOpen.has(file)) return inBackground(close()); // one kept per file
  let settle!: (closing: Promise<unknown> | undefined) => void;
  const done = new Promise<unknown>((resolve) => (settle = (closing) => resolve(closing)));
  const timer = setTimeout(() => closeNow(), KEEP_OPEN_MS);
  timer.unref(); // a process that ends without backgroundDone leaves the log for the next opener to fold in
  const leave = () => {
    clearTimeout(timer);
    if (keptOpen.get(file) === entry) keptOpen.delete(file);
  };
  const closeNow = () => {
    if (keptOpen.get(file) !== entry) return; // taken, or closed already
    leave();
    settle(close());
  };
  const entry = {
    take: () => {
      leave();
      settle(undefined); // in use again: nothing left to wait for
      return db;
    },
  };
  keptOpen.set(file, entry);
  inBackground(done, closeNow);
}

/** The close under way of each SQLite file, the last one started (see closeInTurn). */
const closing = new Map<string, Promise<unknown>>();

/**
 * Closes the connections of one SQLite file one after the other. Only the last connection to close folds the log into
 * dicom.db and removes it, and it knows it is the last only when no other holds the file: two closing at the same
 * moment could each see the other and both leave the log behind (seen 3 times in 40: a catalog released while the
 * kept one of its file was closed by backgroundDone).
 */
function closeInTurn(file: string, close: () => Promise<unknown>): Promise<unknown> {
  const mine = (closing.get(file) ?? Promise.resolve()).then(close);
  closing.set(file, mine);
  void mine.finally(() => {
    if (closing.get(file) === mine) closing.delete(file);
  });
  return mine;
}

/** The options name no catalog: no SQLite file there, or a database without dicomflow's tables. */
export class NoCatalogError extends Error {}

/** dicomflow's own tables: a database with none of them holds no catalog (whatever else it holds). */
const CATALOG_TABLES = ['dicom_metadata', 'validation_results', 'series_issues'];

/**
 * Why the options name no catalog, or null when they do. Creates nothing: a missing SQLite file is not opened, and
 * on PostgreSQL only the system catalog is read.
 */
export async function missingCatalog(opts: CatalogOptions): Promise<string | null> {
  const target = catalogTarget(opts);
  const hint = target.dialect === 'sqlite' ? 'run `dicomflow ingest` into that folder first, or pass --db URL' : 'run `dicomflow ingest ... --db URL` first';
  if (target.dialect === 'sqlite' && !fs.existsSync(target.file)) return `no catalog at ${target.file} (${hint})`;
  const db = connectCatalog(opts);
  try {
    for (const table of CATALOG_TABLES) if (await db.schema.hasTable(table)) return null;
  } finally {
    await db.destroy();
  }
  return `no catalog at ${describeDb(opts)}: the database has none of dicomflow's tables (${hint})`;
}

/** A migrated knex instance on a catalog that exists; NoCatalogError (nothing created) when there is none. */
export async function openExistingCatalog(opts: CatalogOptions): Promise<Knex> {
  const missing = await missingCatalog(opts);
  if (missing) throw new NoCatalogError(missing);
  return openCatalog(opts);
}

export function isPostgres(db: Knex): boolean {
  return db.client.config.client === 'pg';
}
