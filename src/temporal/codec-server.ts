/**
 * A codec endpoint for the Temporal Web UI (and `temporal workflow show --codec-endpoint`), per Temporal's codec
 * server protocol: `POST <endpoint>/decode` (and `/encode`) with `{"payloads": [{"metadata": {k: base64}, "data":
 * base64}]}`, answered in the same shape. It listens on 127.0.0.1 only and answers the browser's CORS preflight for
 * the UI's own origins, so the UI served by DIR's local Temporal server shows decoded payloads.
 *
 * The embedded default starts one with DIR's server (`dicomflow codec-server --out DIR`, detached; it exits when that
 * server does), and the server's UI is started with `--ui-codec-endpoint` pointing at it.
 */
import * as http from 'http';
import type { AddressInfo } from 'net';
import type { Payload, PayloadCodec } from '@temporalio/common';

interface JsonPayload {
  metadata?: Record<string, string> | null;
  data?: string | null;
}

const MAX_BODY = 64 * 2 ** 20;

function fromJson(p: JsonPayload): Payload {
  return {
    metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64')])),
    data: Buffer.from(p.data ?? '', 'base64'),
  };
}

function toJson(p: Payload): JsonPayload {
  return {
    metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v ?? []).toString('base64')])),
    data: Buffer.from(p.data ?? []).toString('base64'),
  };
}

export interface CodecServerOptions {
  /** Port on 127.0.0.1 (0: any free one). */
  port: number;
  /** Browser origins allowed to call it (the Web UI's), e.g. http://127.0.0.1:8233; '*' allows any. */
  origins: string[];
  log?: (line: string) => void;
}

/** Starts the endpoint; resolves once it listens. */
export async function startCodecServer(codec: PayloadCodec, opts: CodecServerOptions): Promise<{ server: http.Server; url: string }> {
  const allowed = new Set(opts.origins.map((o) => o.replace(/\/+$/, '')));
  const server = http.createServer((req, res) => {
    const origin = req.headers.origin;
    if (origin && (allowed.has('*') || allowed.has(origin))) {
      res.setHeader('Access-Control-Allow-Origin', origin);
      res.setHeader('Access-Control-Allow-Credentials', 'true');
      res.setHeader('Access-Control-Allow-Methods', 'POST, OPTIONS');
      res.setHeader('Access-Control-Allow-Headers', req.headers['access-control-request-headers'] ?? 'Content-Type, X-Namespace, Authorization');
      res.setHeader('Access-Control-Max-Age', '600');
      if (req.headers['access-control-request-private-network']) res.setHeader('Access-Control-Allow-Private-Network', 'true');
    }
    res.setHeader('Vary', 'Origin');
    const reply = (status: number, body: unknown) => {
      res.writeHead(status, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.method === 'OPTIONS') {
      res.writeHead(204);
      res.end();
      return;
    }
    const route = /\/(decode|encode)\/?$/.exec((req.url ?? '').split('?')[0])?.[1];
    if (!route) return reply(404, { message: 'not found: POST /decode or /encode' });
    if (req.method !== 'POST') return reply(405, { message: 'use POST' });
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY) {
        reply(413, { message: 'request too large' });
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (res.headersSent) return;
      let payloads: Payload[];
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { payloads?: JsonPayload[] };
        if (!Array.isArray(body.payloads)) throw new Error('no "payloads" array');
        payloads = body.payloads.map(fromJson);
      } catch (err) {
        return reply(400, { message: `bad request: ${(err as Error).message}` });
      }
      (route === 'decode' ? codec.decode(payloads) : codec.encode(payloads)).then(
        (out) => reply(200, { payloads: out.map(toJson) }),
        (err) => {
          opts.log?.(`${route} failed: ${(err as Error).message}`);
          reply(400, { message: (err as Error).message });
        },
      );
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}
