/**
 * `dicomflow serve`: one long-running command that
 *  - serves the catalog on HTTP: DICOMweb under /dicomweb, the study browser and the viewer (src/serve/handlers.ts),
 *    read-only, on 127.0.0.1 by default; any other host needs a bearer token on every request;
 *  - runs a worker of DIR's runs in-process, on DIR's embedded Temporal server (started or reused) or on
 *    TEMPORAL_ADDRESS's cluster, so a Reset, a retry or a new run started from the Temporal UI or a client executes
 *    while it runs.
 * A missing catalog is an error (nothing is created), unless DIR has runs (its Temporal history): then the worker
 * serves them and the site answers 503 until a run has loaded the catalog.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type * as http from 'http';
import { randomBytes } from 'crypto';
import type { Knex } from 'knex';
import type { NativeConnection, Worker } from '@temporalio/worker';
import { catalogTarget, describeDb, missingCatalog, openCatalog, type CatalogOptions } from '../db/catalog';
import { rememberDbUrl } from '../db/credentials';
import { DEFAULT_TASK_QUEUE } from '../contract';
import { workspace } from '../workspace';
import { UsageError } from '../client/source';
import { send, type Handler, type ServeContext } from '../serve/http';

export const DEFAULT_SERVE_PORT = 8030;

export interface ServeOptions {
  outDir: string;
  dbUrl?: string;
  /** 0: any free port. */
  port?: number;
  host?: string;
  token?: string;
  taskQueue?: string;
}

const out = (line: string) => process.stdout.write(line + '\n');

export function isLoopback(host: string): boolean {
  return host === 'localhost' || /^127\.\d+\.\d+\.\d+$/.test(host) || host === '::1' || host === '[::1]';
}

/** Why the catalog cannot be served (no file, no tables, or the database cannot be reached), or null. Creates nothing. */
async function catalogProblem(opts: CatalogOptions): Promise<string | null> {
  try {
    return await missingCatalog(opts);
  } catch (err) {
    return `cannot open the catalog at ${describeDb(opts)}: ${(err as Error).message}`;
  }
}

/** Addresses to print for a host: every non-internal IPv4 address for a wildcard bind. */
function displayHosts(host: string): string[] {
  if (host !== '0.0.0.0' && host !== '::' && host !== '[::]') return [host.includes(':') && !host.startsWith('[') ? `[${host}]` : host];
  const found = Object.values(os.networkInterfaces())
    .flat()
    .filter((a): a is os.NetworkInterfaceInfo => !!a && a.family === 'IPv4' && !a.internal)
    .map((a) => a.address);
  return found.length ? found : ['127.0.0.1'];
}

export async function runServe(opts: ServeOptions): Promise<number> {
  const outDir = path.resolve(opts.outDir);
  const host = opts.host ?? '127.0.0.1';
  const loopback = isLoopback(host);
  if (opts.token !== undefined && opts.token.length < 8) throw new UsageError('--token must be at least 8 characters');
  const token = opts.token ?? (loopback ? undefined : randomBytes(24).toString('base64url'));
  const catalog: CatalogOptions = { outDir, dbUrl: opts.dbUrl };
  const ws = workspace(outDir);

  // The catalog first: a missing one is an error before anything starts, unless DIR has runs to operate.
  const problem = await catalogProblem(catalog);
  const external = process.env.TEMPORAL_ADDRESS;
  const hasRuns = fs.existsSync(path.join(ws.temporalDir, 'history.db'));
  if (problem && (external || !hasRuns)) {
    process.stderr.write(`dicomflow: ${problem}\n`);
    return 1;
  }

  // The catalog's password stays in this process, for its own worker (a run's payload holds the URL without it).
  if (opts.dbUrl) rememberDbUrl(opts.dbUrl);

  // Temporal: DIR's embedded server (started or reused) or TEMPORAL_ADDRESS; a worker of the task queue in-process.
  const { loadWorkerCode } = await import('../client/ingest');
  const { loadCodec } = await import('../temporal/codec');
  let address: string;
  let uiUrl: string | undefined;
  if (external) {
    address = external;
    uiUrl = process.env.TEMPORAL_UI_URL;
  } else {
    const { launchDevServer } = await import('../temporal/dev-server');
    const launched = await launchDevServer(outDir, (m) => process.stderr.write(m + '\n'));
    const server = await launched.ready;
    address = server.address;
    uiUrl = server.uiUrl;
  }
  const codec = loadCodec({ outDir, create: !external });
  const namespace = process.env.TEMPORAL_NAMESPACE ?? 'default';
  const taskQueue = opts.taskQueue ?? process.env.DICOMFLOW_TASK_QUEUE ?? DEFAULT_TASK_QUEUE;
  const workerCode = await loadWorkerCode(outDir);
  let nativeConnection: NativeConnection | undefined;
  let worker: Worker;
  try {
    nativeConnection = await workerCode.NativeConnection.connect({ address });
    worker = await workerCode.createWorker({ connection: nativeConnection, namespace, taskQueue, codec });
  } catch (err) {
    await nativeConnection?.close().catch(() => undefined);
    throw err;
  }

  // The site.
  const { createServeServer } = await import('../serve/server');
  const { serveHandlers } = await import('../serve/handlers');
  const dialect = catalogTarget(catalog).dialect;
  const ctx: ServeContext = {
    // Set below, or by the gate once a run has loaded the catalog: no handler runs before.
    db: undefined as unknown as Knex,
    dialect,
    outDir,
    temporalUiUrl: uiUrl,
    baseUrl: '',
  };
  let db: Knex | undefined;
  let opening: Promise<boolean> | undefined;
  let checkedAt = 0;
  const openWhenThere = async (): Promise<boolean> => {
    if (db) return true;
    if (Date.now() - checkedAt < 2000) return false;
    opening ??= (async () => {
      checkedAt = Date.now();
      if (await catalogProblem(catalog)) return false;
      db = ctx.db = await openCatalog(catalog);
      return true;
    })().finally(() => (opening = undefined));
    return opening;
  };
  if (!problem) await openWhenThere();
  const gate: Handler = async (_req, res) => {
    if (await openWhenThere()) return false;
    send(
      res,
      503,
      'text/plain; charset=utf-8',
      `No catalog yet at ${describeDb(catalog)}: no run has loaded it.\n` +
        `Fix the cause of the failed run and Reset it in the Temporal UI${uiUrl ? ` (${uiUrl})` : ''} or run the same ingest again; this site answers once the load is done.\n`,
    );
    return true;
  };

  const server = createServeServer(ctx, [gate, ...serveHandlers], { token });
  const port = await listen(server, opts.port ?? DEFAULT_SERVE_PORT, host);
  const urls = displayHosts(host).map((h) => `http://${h}:${port}`);
  ctx.baseUrl = urls[0];

  const tokenQuery = token ? `?token=${encodeURIComponent(token)}` : '';
  out(`dicomflow serve: ${describeDb(catalog)}${db ? '' : ' (not there yet)'}, organized tree ${ws.organizedDir}`);
  for (const url of urls) {
    out(`  browser      ${url}/${tokenQuery}`);
  }
  out(`  DICOMweb     ${urls[0]}/dicomweb`);
  out(`  viewer       ${urls[0]}/viewer${tokenQuery}`);
  out(`  Temporal UI  ${uiUrl ?? `(TEMPORAL_UI_URL not set) server ${address}`}`);
  out(`  worker       polling ${address} namespace ${namespace} task queue ${taskQueue}: a Reset, a retry or a new run there runs here`);
  if (token) out(`  token        ${token}   (every request: Authorization: Bearer <token>; a browser opens the URL above once)`);
  if (problem) out(`  no catalog yet: ${problem}; the site answers 503 until a run loads it`);
  out(`Ctrl-C stops it${external ? '' : ` (the Temporal server keeps running: dicomflow server stop --out ${outDir})`}`);

  // Ctrl-C (or SIGTERM): the SDK shuts the worker down gracefully; then the site closes.
  const closeSite = () => {
    server.close();
    server.closeAllConnections();
  };
  process.once('SIGINT', closeSite);
  process.once('SIGTERM', closeSite);
  let code = 0;
  try {
    await worker.run();
  } catch (err) {
    process.stderr.write(`dicomflow: the worker stopped: ${(err as Error).message}\n`);
    code = 1;
  } finally {
    closeSite();
    process.removeListener('SIGINT', closeSite);
    process.removeListener('SIGTERM', closeSite);
    await (await import('../background')).backgroundDone();
    await db?.destroy().catch(() => undefined);
    await nativeConnection.close().catch(() => undefined);
  }
  out('dicomflow serve stopped');
  return code;
}

function listen(server: http.Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      reject(
        err.code === 'EADDRINUSE'
          ? new UsageError(`port ${port} on ${host} is in use: choose another with --port N (0: any free port)`)
          : err.code === 'EADDRNOTAVAIL'
            ? new UsageError(`cannot listen on ${host}: not an address of this machine`)
            : err,
      );
    };
    server.once('error', onError);
    server.listen(port, host.replace(/^\[(.*)\]$/, '$1'), () => {
      server.off('error', onError);
      resolve((server.address() as { port: number }).port);
    });
  });
}
