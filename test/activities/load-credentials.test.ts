/**
 * The load activity gets the catalog's URL without its password (as every payload carries it) and a real PostgreSQL
 * that wants one: the worker puts it back from DICOMFLOW_DB_URL or from the full URL `ingest` left in its memory;
 * a worker without it fails at once, saying what to set, and never prints the password.
 */
import { randomBytes } from 'crypto';
import { DefaultLogger } from '@temporalio/worker';
import { MockActivityEnvironment } from '@temporalio/testing';
import { loadDatabase } from '../../src/activities/load-database';
import { DB_URL_ENV, redactDbUrl, rememberDbUrl } from '../../src/db/credentials';
import { startPostgres, type TestPostgres } from '../helpers/postgres';
import { freshPgDatabase, removeTempDirs, smallRun, tempDir, writeRun } from '../db/fixtures';

const PASSWORD = `pw${randomBytes(8).toString('hex')}`;
let pg: TestPostgres;
const saved = { dbUrl: process.env[DB_URL_ENV], pgPassword: process.env.PGPASSWORD };

beforeAll(async () => {
  pg = await startPostgres({ password: PASSWORD });
  delete process.env[DB_URL_ENV];
  delete process.env.PGPASSWORD;
});

afterAll(async () => {
  for (const [k, v] of [[DB_URL_ENV, saved.dbUrl], ['PGPASSWORD', saved.pgPassword]] as const) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  await pg?.stop();
  removeTempDirs();
});

async function freshRun() {
  const outDir = tempDir();
  await writeRun(outDir, smallRun());
  const full = await freshPgDatabase(pg.url);
  return { outDir, full, redacted: redactDbUrl(full) };
}

const quiet = () => new MockActivityEnvironment(undefined, { logger: new DefaultLogger('ERROR') });

test('the URL of a payload has no password; a worker that has none for it fails at once with what to set', async () => {
  const { outDir, full, redacted } = await freshRun();
  expect(full).toContain(`:${PASSWORD}@`);
  expect(redacted).not.toContain(PASSWORD);
  const failure = (await quiet()
    .run(loadDatabase, { outDir, dbUrl: redacted, runId: 'r1' })
    .catch((err: unknown) => err)) as { nonRetryable?: boolean; type?: string; message: string };
  expect(failure).toMatchObject({ nonRetryable: true, type: 'CatalogPasswordMissing' });
  expect(failure!.message).toMatch(/has no password for it: start it with DICOMFLOW_DB_URL=/);
  expect(failure!.message).not.toContain(PASSWORD);
});

test('a dicomflow worker takes the password from DICOMFLOW_DB_URL', async () => {
  const { outDir, full, redacted } = await freshRun();
  process.env[DB_URL_ENV] = `postgres://someone:else@elsewhere/db ${full}`;
  try {
    expect(await quiet().run(loadDatabase, { outDir, dbUrl: redacted, runId: 'r2' })).toMatchObject({ instances: 6, validationRows: 8 });
  } finally {
    delete process.env[DB_URL_ENV];
  }
});

test('the in-process worker of ingest takes it from memory; a full URL (a run started before) still works', async () => {
  const a = await freshRun();
  expect(rememberDbUrl(a.full)).toBe(a.redacted);
  expect(await quiet().run(loadDatabase, { outDir: a.outDir, dbUrl: a.redacted, runId: 'r3' })).toMatchObject({ instances: 6 });
  const b = await freshRun();
  expect(await quiet().run(loadDatabase, { outDir: b.outDir, dbUrl: b.full, runId: 'r4' })).toMatchObject({ instances: 6 });
});
