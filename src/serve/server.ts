/**
 * The server of `dicomflow serve`: read-only (GET/HEAD only), handlers tried in order, a bearer token on every request
 * when one is set (required off loopback), errors answered without internals.
 */
import * as http from 'http';
import { timingSafeEqual } from 'crypto';
import { notFound, send, type Handler, type ServeContext } from './http';

export interface ServeServerOptions {
  /** When set, every request must carry it: `Authorization: Bearer T`, or `?token=T` once (then a cookie). */
  token?: string;
}

export function createServeServer(ctx: ServeContext, handlers: Handler[], opts: ServeServerOptions = {}): http.Server {
  return http.createServer((req, res) => {
    void answer(req, res).catch((err: unknown) => {
      // (the URL without its query: a ?token= never reaches a log)
      console.error(`[serve] ${req.method} ${(req.url ?? '').split('?')[0]}: ${err instanceof Error ? err.message : String(err)}`);
      if (!res.headersSent) send(res, 500, 'text/plain; charset=utf-8', 'Internal error (see the serve log)\n');
      else res.destroy();
    });
  });

  async function answer(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      send(res, 405, 'text/plain; charset=utf-8', 'Read-only: only GET and HEAD\n');
      return;
    }
    const url = new URL(req.url ?? '/', 'http://serve.invalid');
    if (opts.token !== undefined && !authorized(req, url, res, opts.token)) return;
    for (const handler of handlers) if (await handler(req, res, url, ctx)) return;
    notFound(res);
  }
}

const COOKIE = 'dicomflow_token';

function authorized(req: http.IncomingMessage, url: URL, res: http.ServerResponse, token: string): boolean {
  const header = req.headers.authorization?.match(/^Bearer\s+(.+)$/i)?.[1];
  const cookie = (req.headers.cookie ?? '').split(/;\s*/).find((c) => c.startsWith(`${COOKIE}=`))?.slice(COOKIE.length + 1);
  const query = url.searchParams.get('token');
  const given = header ?? (cookie ? decodeURIComponent(cookie) : undefined) ?? query ?? undefined;
  if (given !== undefined && same(given, token)) {
    // A browser that came with ?token= keeps it in a cookie, so links and the viewer's requests carry it.
    if (query !== null && header === undefined) {
      res.setHeader('set-cookie', `${COOKIE}=${encodeURIComponent(token)}; HttpOnly; SameSite=Strict; Path=/`);
    }
    return true;
  }
  res.setHeader('www-authenticate', 'Bearer realm="dicomflow"');
  send(res, 401, 'text/plain; charset=utf-8', 'A token is required: Authorization: Bearer <token>, or ?token=<token> in a browser\n');
  return false;
}

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
