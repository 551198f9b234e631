/** The load-database activity in MockActivityEnvironment: heartbeats its cursor and resumes from heartbeat details. */
import { DefaultLogger } from '@temporalio/worker';
import { MockActivityEnvironment } from '@temporalio/testing';
import knexFactory from 'knex';
import { loadDatabase } from '../../src/activities/load-database';
import type { LoadCursor } from '../../src/db/load';
import { workspace } from '../../src/workspace';
import { instance, outcome, SERIES_CT, writeRun, catalogFactory } from '../db/fixtures';
import { catalogDialects } from '../helpers/tools';

type Dialect = 'sqlite' | 'postgres';
const catalogs = catalogFactory();
const fresh = catalogs.fresh;
afterAll(() => catalogs.cleanup());

/** Row counts read over a separate connection (the activity destroys its own). */
async function counts(opts: { outDir: string; dbUrl?: string }): Promise<number[]> {
  const db = opts.dbUrl
    ? knexFactory({ client: 'pg', connection: opts.dbUrl })
    : knexFactory({ client: 'sqlite3', connection: { filename: workspace(opts.outDir).dbFile }, useNullAsDefault: true });
  try {
    const out: number[] = [];
    for (const table of ['dicom_metadata', 'validation_results', 'series_issues']) {
      const [row] = await db(table).count<{ n: number }[]>({ n: '*' });
      out.push(Number(row.n));
    }
    return out;
  } finally {
    await db.destroy();
  }
}

const N = 1203; // more than two 500-row batches

async function writeBigRun(outDir: string) {
  const instances = Array.from({ length: N }, (_, k) => instance(k + 1));
  const outcomes = instances.map((_, i) => outcome(i));
  const issues = [{ seriesInstanceUid: SERIES_CT, code: 'INSTANCE_NUMBER_GAP', message: 'InstanceNumber 1..1203 misses none' }];
  await writeRun(outDir, { instances, outcomes, issues });
}

describe.each<Dialect>(catalogDialects())('loadDatabase on %s', (dialect) => {
  test('loads everything, heartbeating a growing cursor; a retry loads nothing twice', async () => {
    const opts = await fresh(dialect);
    await writeBigRun(opts.outDir);
    const env = new MockActivityEnvironment();
    const beats: LoadCursor[] = [];
    env.on('heartbeat', (d: LoadCursor) => beats.push(d));
    const result = await env.run(loadDatabase, { ...opts, runId: 'run-1' });
    expect(result).toEqual({ instances: N, validationRows: N, seriesIssues: 1 });
    // one heartbeat per commit, in file order: each file fits one transaction here (ROWS_PER_COMMIT)
    expect(beats.map((b) => [b.instances, b.outcomes, b.seriesIssues])).toEqual([
      [N, 0, 0],
      [N, N, 0],
      [N, N, 1],
    ]);
    expect(await counts(opts)).toEqual([N, N, 1]);

    const again = await new MockActivityEnvironment().run(loadDatabase, { ...opts, runId: 'run-1' });
    expect(again).toEqual(result);
    expect(await counts(opts)).toEqual([N, N, 1]);
  });

  test('a retried activity resumes from heartbeat details', async () => {
    const opts = await fresh(dialect);
    await writeBigRun(opts.outDir);
    // An earlier attempt committed every instance and 1000 outcomes, then died.
    const env = new MockActivityEnvironment({ heartbeatDetails: { instances: N, outcomes: 1000, seriesIssues: 0 }, attempt: 2 });
    const beats: LoadCursor[] = [];
    env.on('heartbeat', (d: LoadCursor) => beats.push(d));
    const result = await env.run(loadDatabase, { ...opts, runId: 'run-1' });
    expect(result).toEqual({ instances: N, validationRows: N, seriesIssues: 1 });
    // On this fresh catalog only what came after the cursor was written: proof the resume skipped the rest.
    expect(await counts(opts)).toEqual([0, N - 1000, 1]);
    expect(beats[0]).toEqual({ instances: N, outcomes: N, seriesIssues: 0 });
  });

  test('a cancelled activity stops after the commit in hand', async () => {
    const opts = await fresh(dialect);
    await writeBigRun(opts.outDir);
    const env = new MockActivityEnvironment(undefined, { logger: new DefaultLogger('ERROR') });
    env.once('heartbeat', () => env.cancel());
    await expect(env.run(loadDatabase, { ...opts, runId: 'run-1' })).rejects.toMatchObject({ name: 'CancelledFailure' });
    // cancelled at the first commit's heartbeat (all instances): the outcomes are never started
    expect(await counts(opts)).toEqual([N, 0, 0]);
  });

  test('a catalog that cannot exist fails at once, not retried', async () => {
    const opts = await fresh(dialect);
    await writeBigRun(opts.outDir);
    const dbUrl = dialect === 'sqlite' ? 'mysql://db/catalog' : opts.dbUrl!.replace(/\/[^/]+$/, '/no_such_database');
    const quiet = new MockActivityEnvironment(undefined, { logger: new DefaultLogger('ERROR') });
    await expect(quiet.run(loadDatabase, { outDir: opts.outDir, dbUrl, runId: 'r' })).rejects.toMatchObject({
      nonRetryable: true,
      message: expect.stringMatching(dialect === 'sqlite' ? /Unsupported database URL/ : /no_such_database" does not exist/),
    });
  });

  test('a row the database refuses fails at once, not retried', async () => {
    const opts = await fresh(dialect);
    const bad = instance(1);
    (bad.fields as { seriesInstanceUid: string | null }).seriesInstanceUid = null; // NOT NULL column
    await writeRun(opts.outDir, { instances: [bad], outcomes: [], issues: [] });
    const quiet = new MockActivityEnvironment(undefined, { logger: new DefaultLogger('ERROR') });
    await expect(quiet.run(loadDatabase, { ...opts, runId: 'r' })).rejects.toMatchObject({
      nonRetryable: true,
      type: 'CatalogRefusedData',
      message: expect.stringMatching(/refused a row: .*(NOT NULL constraint failed|not-null constraint)/),
    });
  });

  test('missing stage outputs fail at once, not retried', async () => {
    const opts = await fresh(dialect);
    const quiet = new MockActivityEnvironment(undefined, { logger: new DefaultLogger('ERROR') });
    await expect(quiet.run(loadDatabase, { ...opts, runId: 'r' })).rejects.toMatchObject({
      nonRetryable: true,
      message: expect.stringContaining('instances.jsonl'),
    });
  });
});
