/**
 * Downloads one zip over http(s) to a file, resumably: bytes go to `dest + '.partial'`, which is renamed
 * to `dest` only once the body is complete and verified (length, zip signature, sha256). A later call
 * continues a partial file with a Range request when the server supports it, else starts over.
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as http from 'http';
import * as https from 'https';
import * as path from 'path';
import { IoFailure, formatBytes, redactUrl } from './errors';
import { looksLikeZip } from './zip-signature';

export interface DownloadOptions {
  /** Expected sha256 of the whole file (hex, any case). */
  sha256?: string;
  /** Bytes of the partial file known good (the last heartbeat); default: all the partial file holds. */
  resumeFrom?: number;
  /** Called as bytes arrive: bytes of the file so far, and the full size when the server told it. */
  onProgress?: (bytes: number, total: number | null) => void;
  signal?: AbortSignal;
  maxRedirects?: number;
  /** A connection silent this long is dropped (retryable); default 20 s, under a typical 30 s heartbeat timeout. */
  idleTimeoutMs?: number;
}

export interface DownloadOutcome {
  bytes: number;
  sha256: string;
  /** Where this call started in the file: 0, or the byte offset a Range request resumed from. */
  resumedFrom: number;
}

const IDLE_TIMEOUT_MS = 20_000;

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/** The status codes of 4xx that are worth trying again. */
const RETRYABLE_CLIENT_STATUS = new Set([408, 429]);

/** Streams `url` into `dest`; throws IoFailure (retryable or not) when it cannot. */
export async function downloadFile(url: string, dest: string, opts: DownloadOptions = {}): Promise<DownloadOutcome> {
  await fs.promises.mkdir(path.dirname(dest), { recursive: true });
  const partial = dest + '.partial';
  const partialSize = await fs.promises.stat(partial).then((s) => s.size, () => 0);
  let start = Math.min(opts.resumeFrom ?? partialSize, partialSize);
  if (start > 0 && !(await partialStartsLikeZip(partial, start))) start = 0;

  const expected = opts.sha256?.toLowerCase();
  let outcome = await attempt(url, partial, start, opts);
  if (expected && outcome.sha256 !== expected && outcome.resumedFrom > 0) {
    // The kept part may come from an older version of the file: one clean try from byte 0 decides.
    outcome = await attempt(url, partial, 0, opts);
  }
  return finish(outcome, partial, dest, url, expected);
}

async function finish(outcome: DownloadOutcome, partial: string, dest: string, url: string, expected?: string): Promise<DownloadOutcome> {
  if (expected && outcome.sha256 !== expected) {
    await fs.promises.rm(partial, { force: true });
    throw new IoFailure(
      `sha256 mismatch for ${redactUrl(url)}: expected ${expected}, got ${outcome.sha256} (${formatBytes(outcome.bytes)})`,
      'Sha256Mismatch',
      false,
    );
  }
  await fs.promises.rename(partial, dest);
  return outcome;
}

async function partialStartsLikeZip(partial: string, size: number): Promise<boolean> {
  if (size < 4) return false;
  const handle = await fs.promises.open(partial, 'r');
  try {
    const head = Buffer.alloc(4);
    await handle.read(head, 0, 4, 0);
    return looksLikeZip(head);
  } finally {
    await handle.close();
  }
}

/** One request (with its redirects) that fills `partial` from byte `start` to the end. */
async function attempt(url: string, partial: string, start: number, opts: DownloadOptions): Promise<DownloadOutcome> {
  const hash = crypto.createHash('sha256');
  let response = await get(url, start, opts);
  let offset = start;
  if (start > 0) {
    const rangeStart = response.res.statusCode === 206 ? parseContentRange(response.res.headers['content-range'])?.start : undefined;
    if (rangeStart !== start) {
      // The server ignored or mangled the Range: throw the answer away and start over.
      response.res.destroy();
      response = await get(url, 0, opts);
      offset = 0;
    }
  }
  const { res, finalUrl } = response;
  const where = redactUrl(finalUrl);
  const total = expectedTotal(res, offset);

  await fs.promises.truncate(partial, offset).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw err;
  });
  let hashed = 0;
  if (offset > 0) {
    // The kept part is hashed again (a heartbeat cannot carry a hash state); progress keeps heartbeats going.
    for await (const chunk of fs.createReadStream(partial, { end: offset - 1, highWaterMark: 1024 * 1024 })) {
      hash.update(chunk as Buffer);
      hashed += (chunk as Buffer).length;
      opts.onProgress?.(hashed, total);
    }
  }

  const out = await fs.promises.open(partial, offset > 0 ? 'a' : 'w');
  let bytes = offset;
  let head = Buffer.alloc(0); // the first bytes of the file, until we know it is a zip
  try {
    try {
      for await (const chunk of res as AsyncIterable<Buffer>) {
        if (offset === 0 && head.length < 4) {
          head = Buffer.concat([head, chunk.subarray(0, 4 - head.length)]);
          if (head.length >= 4 && !looksLikeZip(head)) {
            throw new IoFailure(
              `${where} is not a zip: it starts with ${JSON.stringify(head.toString('latin1'))} instead of PK\\x03\\x04` +
                ` (content-type ${res.headers['content-type'] ?? 'unknown'})`,
              'NotAZip',
              false,
            );
          }
        }
        await out.write(chunk);
        hash.update(chunk);
        bytes += chunk.length;
        opts.onProgress?.(bytes, total);
      }
    } catch (err) {
      if (err instanceof IoFailure || isAbort(err, opts.signal)) throw err;
      throw new IoFailure(
        `connection to ${where} dropped after ${formatBytes(bytes)}${total !== null ? ` of ${formatBytes(total)}` : ''}: ${describe(err)}`,
        'DownloadInterrupted',
        true,
      );
    }
    await out.sync();
  } catch (err) {
    if (err instanceof IoFailure && !err.retryable) await fs.promises.rm(partial, { force: true }).catch(() => undefined);
    throw err;
  } finally {
    await out.close();
  }

  if (total !== null && bytes !== total) {
    throw new IoFailure(`short body from ${where}: got ${bytes} bytes, Content-Length says ${total}`, 'ShortBody', true);
  }
  if (bytes < 4 || (offset === 0 && !looksLikeZip(head))) {
    await fs.promises.rm(partial, { force: true });
    throw new IoFailure(`${where} is not a zip: the body has only ${bytes} bytes`, 'NotAZip', false);
  }
  return { bytes, sha256: hash.digest('hex'), resumedFrom: offset };
}

/** The full size of the file from this answer, or null when the server did not say. */
function expectedTotal(res: http.IncomingMessage, offset: number): number | null {
  if (res.statusCode === 206) {
    const range = parseContentRange(res.headers['content-range']);
    if (range?.total !== undefined) return range.total;
  }
  const length = res.headers['content-length'];
  if (length === undefined || !/^\d+$/.test(length)) return null;
  return offset + Number(length);
}

function parseContentRange(header: string | undefined): { start: number; total?: number } | undefined {
  const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(header?.trim() ?? '');
  if (!m) return undefined;
  return { start: Number(m[1]), total: m[3] === '*' ? undefined : Number(m[3]) };
}

/** GET with redirects followed; resolves with a 200/206 answer, throws IoFailure for the others. */
async function get(url: string, start: number, opts: DownloadOptions): Promise<{ res: http.IncomingMessage; finalUrl: string }> {
  const maxRedirects = opts.maxRedirects ?? 10;
  let current = url;
  for (let hop = 0; ; hop++) {
    const res = await request(current, start, opts);
    const status = res.statusCode ?? 0;
    const where = redactUrl(current);
    if (status === 200 || status === 206) return { res, finalUrl: current };
    res.resume(); // drain what we will not read, so the socket is freed
    if (REDIRECTS.has(status)) {
      const location = res.headers.location;
      if (!location) throw new IoFailure(`HTTP ${status} from ${where} without a Location header`, 'HttpClientError', false);
      if (hop >= maxRedirects) throw new IoFailure(`more than ${maxRedirects} redirects, last from ${where}`, 'TooManyRedirects', false);
      current = new URL(location, current).toString();
      continue;
    }
    const line = `HTTP ${status} ${res.statusMessage ?? ''}`.trim() + ` from ${where}`;
    if (status === 416 && start > 0) return get(url, 0, opts); // our range is past the end: start over
    if (status >= 400 && status < 500 && !RETRYABLE_CLIENT_STATUS.has(status)) throw new IoFailure(line, 'HttpClientError', false);
    if (status >= 500 || RETRYABLE_CLIENT_STATUS.has(status)) throw new IoFailure(line, 'HttpServerError', true);
    throw new IoFailure(`unexpected ${line}`, 'HttpUnexpectedStatus', true);
  }
}

function request(url: string, start: number, opts: DownloadOptions): Promise<http.IncomingMessage> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return Promise.reject(new IoFailure(`not a valid URL: ${redactUrl(url)}`, 'BadUrl', false));
  }
  const client = parsed.protocol === 'https:' ? https : parsed.protocol === 'http:' ? http : undefined;
  if (!client) return Promise.reject(new IoFailure(`unsupported protocol ${parsed.protocol} in ${redactUrl(url)}`, 'BadUrl', false));
  const headers: http.OutgoingHttpHeaders = { 'user-agent': 'dicomflow', 'accept-encoding': 'identity' };
  if (start > 0) headers.range = `bytes=${start}-`;
  return new Promise((resolve, reject) => {
    const req = client.get(parsed, { headers, signal: opts.signal }, resolve);
    req.setTimeout(opts.idleTimeoutMs ?? IDLE_TIMEOUT_MS, () => {
      req.destroy(new Error(`no data for ${Math.round((opts.idleTimeoutMs ?? IDLE_TIMEOUT_MS) / 1000)} s`));
    });
    req.on('error', (err) => {
      if (isAbort(err, opts.signal)) return reject(err);
      reject(new IoFailure(`cannot fetch ${redactUrl(url)}: ${describe(err)}`, 'NetworkError', true));
    });
  });
}

function isAbort(err: unknown, signal?: AbortSignal): boolean {
  return signal?.aborted === true || (err as Error)?.name === 'AbortError';
}

function describe(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return e?.code ? `${e.message} (${e.code})` : String(e?.message ?? err);
}
