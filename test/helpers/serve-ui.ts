/**
 * For the web page tests: a `synth --broken` dataset ingested with the real CLI, the serve server over its catalog on
 * 127.0.0.1, and headless Chromium driven by puppeteer-core.
 */
import * as fs from 'fs';
import * as http from 'http';
import * as os from 'os';
import * as path from 'path';
import type { AddressInfo } from 'net';
import type { Knex } from 'knex';
import type { Browser, Page } from 'puppeteer-core';
import { synthesize, type SynthManifest } from '../../src/synth';
import { openCatalog } from '../../src/db/catalog';
import { createServeServer } from '../../src/serve/server';
import type { Handler, ServeContext } from '../../src/serve/http';
import { runCli } from './cli';

export interface Ingested {
  tmp: string;
  dir: string;
  manifest: SynthManifest;
  db: Knex;
  /** Stops DIR's Temporal server, closes the catalog, removes the folder. */
  cleanup(): Promise<void>;
}

/** A synthetic LIDC-like zip with every broken case, ingested into a fresh DIR by `dicomflow ingest`. */
export async function ingestSynth(opts: { patients: number; slices: number; size: number; seed?: number; dbUrl?: string }): Promise<Ingested> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dicomflow-serve-ui-'));
  const zip = path.join(tmp, 'lidc.zip');
  const dir = path.join(tmp, 'out');
  const { dbUrl, ...synth } = opts;
  const manifest = await synthesize({ ...synth, broken: true, seed: opts.seed ?? 5, out: zip });
  const r = await runCli(['ingest', zip, '--out', dir, ...(dbUrl ? ['--db', dbUrl] : [])]);
  if (r.code !== 0) throw new Error(`ingest failed (${r.code}): ${r.stderr}${r.stdout}`);
  const db = await openCatalog({ outDir: dir, dbUrl });
  return {
    tmp,
    dir,
    manifest,
    db,
    async cleanup() {
      await db.destroy();
      await runCli(['server', 'stop', '--out', dir]);
      fs.rmSync(tmp, { recursive: true, force: true });
    },
  };
}

export interface Served {
  base: string;
  ctx: ServeContext;
  close(): Promise<void>;
}

export async function serve(db: Knex, outDir: string, handlers: Handler[], extra: Partial<ServeContext> = {}): Promise<Served> {
  const ctx: ServeContext = { db, dialect: 'sqlite', outDir, baseUrl: 'http://127.0.0.1', ...extra };
  const server = createServeServer(ctx, handlers);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  ctx.baseUrl = base;
  return {
    base,
    ctx,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** GET as bytes: status, content type and body. */
export function get(url: string): Promise<{ status: number; type: string; body: Buffer }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type'] ?? ''), body: Buffer.concat(chunks) }));
      })
      .on('error', reject);
  });
}

export const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** Width and height from a PNG's IHDR, after checking its signature. */
export function pngSize(bytes: Buffer): { width: number; height: number } {
  if (!bytes.subarray(0, 8).equals(PNG_SIGNATURE) || bytes.toString('latin1', 12, 16) !== 'IHDR') throw new Error('not a PNG');
  return { width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20) };
}

export async function launchChromium(executablePath: string): Promise<Browser> {
  const puppeteer = await import('puppeteer-core');
  return puppeteer.launch({
    executablePath,
    headless: true,
    // WebGL through SwiftShader, so the viewer renders on a machine without a GPU.
    args: ['--no-sandbox', '--use-angle=swiftshader', '--enable-unsafe-swiftshader', '--window-size=1400,900'],
    defaultViewport: { width: 1400, height: 900 },
  });
}

/** What went wrong in a page: script errors, console errors and failed requests (HTTP >= 400 or network). */
export function watchPage(page: Page): string[] {
  const problems: string[] = [];
  page.on('pageerror', (err) => problems.push(`pageerror: ${err instanceof Error ? err.message : String(err)}`));
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console.error: ${m.text()} ${m.location()?.url ?? ''}`);
  });
  page.on('requestfailed', (r) => {
    // ERR_ABORTED is the page cancelling its own request (the viewer drops prefetches it no longer needs): not a failure.
    if (r.failure()?.errorText !== 'net::ERR_ABORTED') problems.push(`request failed: ${r.url()} ${r.failure()?.errorText ?? ''}`);
  });
  page.on('response', (r) => {
    if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.url()}`);
  });
  return problems;
}

/** Where a test saves its screenshot: docs/<name> with DICOMFLOW_SCREENSHOTS=1 (to commit), else the test's tmp folder. */
export function screenshotPath(name: string, tmp: string): string {
  return process.env.DICOMFLOW_SCREENSHOTS ? path.resolve(__dirname, '..', '..', 'docs', name) : path.join(tmp, name);
}
