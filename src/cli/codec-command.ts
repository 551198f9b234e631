/**
 * `dicomflow codec-server`: the codec endpoint for a Temporal Web UI (see src/temporal/codec-server.ts).
 * DIR's local server starts one itself; for an existing cluster, run it where the UI's users can reach 127.0.0.1
 * and set the UI's codec endpoint to the URL it prints.
 */
import * as path from 'path';
import { loadCodec } from '../temporal/codec';
import { startCodecServer } from '../temporal/codec-server';

export async function runCodecServer(opts: { outDir?: string; port?: number; uiOrigins: string[]; exitWith?: number }): Promise<number> {
  const outDir = opts.outDir ? path.resolve(opts.outDir) : undefined;
  const codec = loadCodec({ outDir });
  const log = (line: string) => process.stderr.write(`${new Date().toISOString()} ${line}\n`);
  const { server, url } = await startCodecServer(codec, { port: opts.port ?? 0, origins: opts.uiOrigins, log });
  process.stdout.write(`dicomflow codec endpoint ${url} (POST /decode, /encode; key ${codec.keyId}; for the Web UI at ${opts.uiOrigins.join(', ')})\n`);
  await new Promise<void>((resolve) => {
    const stop = () => server.close(() => resolve());
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
    // Started with DIR's local Temporal server: it goes when that server goes.
    if (opts.exitWith) {
      const pid = opts.exitWith;
      setInterval(() => {
        try {
          process.kill(pid, 0);
        } catch {
          stop();
        }
      }, 2000).unref();
    }
  });
  return 0;
}
