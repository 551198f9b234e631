/**
 * A throw-away PostgreSQL cluster for tests: initdb into a temp dir, pg_ctl start on a free port on
 * 127.0.0.1, stop and delete on stop(). PostgreSQL refuses to run as root, so when we are root the
 * server runs as the `postgres` user (runuser) in a directory it owns.
 *
 * Missing binaries are an error here; tests that need the server ask test/helpers/tools.ts (POSTGRES), which skips
 * them with a one-line notice on a machine without PostgreSQL, and fails them under CI=true.
 */
import { execFile, execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { promisify } from 'util';
import { freePort } from '../../src/temporal/dev-server';

const run = promisify(execFile);

export interface TestPostgres {
  /** postgres://postgres@127.0.0.1:<port>/postgres (trust auth), or postgres://postgres:<password>@... */
  url: string;
  port: number;
  stop(): Promise<void>;
}

/**
 * Directory holding initdb/pg_ctl: $PG_BIN, else the newest <base>/<version>/bin, base being $PG_BASE or Debian's
 * /usr/lib/postgresql (PG_BASE=/nonexistent hides the installed server, to see the tests skip).
 */
export function findPostgresBin(where: { pgBin?: string; base?: string } = { pgBin: process.env.PG_BIN, base: process.env.PG_BASE }): string {
  const candidates: string[] = [];
  if (where.pgBin) candidates.push(where.pgBin);
  const base = where.base ?? '/usr/lib/postgresql';
  if (fs.existsSync(base)) {
    const versions = fs
      .readdirSync(base)
      .filter((v) => /^\d+/.test(v))
      .sort((a, b) => parseFloat(b) - parseFloat(a));
    for (const v of versions) candidates.push(path.join(base, v, 'bin'));
  }
  for (const dir of candidates) {
    if (fs.existsSync(path.join(dir, 'initdb')) && fs.existsSync(path.join(dir, 'pg_ctl'))) return dir;
  }
  throw new Error(
    `PostgreSQL server binaries (initdb, pg_ctl) not found in $PG_BIN or ${base}/*/bin. ` +
      'Install them with `apt-get install -y postgresql` (the PostgreSQL tests need a real server).',
  );
}


const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

/** argv that runs `cmd args` as the postgres user when we are root. */
function asPostgres(cmd: string, args: string[]): [string, string[]] {
  return isRoot ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args];
}

/** With `password`, TCP connections must authenticate (scram-sha-256) as postgres with that password. */
export async function startPostgres(opts: { password?: string } = {}): Promise<TestPostgres> {
  const bin = findPostgresBin();
  // As root the server runs as `postgres`, which must be able to reach the dir: /tmp, not a private TMPDIR.
  const dir = fs.mkdtempSync(path.join(isRoot ? '/tmp' : os.tmpdir(), 'dicomflow-pg-'));
  const dataDir = path.join(dir, 'data');
  const logFile = path.join(dir, 'server.log');
  const pwFile = path.join(dir, 'password');
  if (opts.password !== undefined) fs.writeFileSync(pwFile, opts.password + '\n', { mode: 0o600 });
  if (isRoot) execFileSync('chown', ['-R', 'postgres:postgres', dir]);

  const exec = async (cmd: string, args: string[]) => {
    const [c, a] = asPostgres(path.join(bin, cmd), args);
    try {
      await run(c, a, { cwd: dir });
    } catch (err) {
      const log = fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8').slice(-2000) : '';
      const e = err as { stderr?: string; message?: string };
      throw new Error(`${cmd} failed: ${e.stderr || e.message}\n${log}`);
    }
  };

  const auth = opts.password === undefined ? ['-A', 'trust'] : ['--auth-local=trust', '--auth-host=scram-sha-256', `--pwfile=${pwFile}`];
  await exec('initdb', ['-D', dataDir, '-U', 'postgres', ...auth, '-E', 'UTF8', '--locale=C', '--no-sync']);
  let port = 0;
  // A port found free can be taken before the server binds it: try a few.
  for (let attempt = 0; ; attempt++) {
    port = await freePort();
    const opts = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off`;
    try {
      await exec('pg_ctl', ['-D', dataDir, '-o', opts, '-l', logFile, '-w', '-t', '60', 'start']);
      break;
    } catch (err) {
      if (attempt >= 2) throw err;
    }
  }

  let stopped = false;
  const stopSync = () => {
    if (stopped) return;
    stopped = true;
    try {
      const [c, a] = asPostgres(path.join(bin, 'pg_ctl'), ['-D', dataDir, '-m', 'immediate', '-w', 'stop']);
      execFileSync(c, a, { stdio: 'ignore' });
    } catch {
      // already down
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };
  // A crashed test run must not leave a server behind.
  process.once('exit', stopSync);

  return {
    url: `postgres://postgres${opts.password === undefined ? '' : `:${encodeURIComponent(opts.password)}`}@127.0.0.1:${port}/postgres`,
    port,
    async stop() {
      if (stopped) return;
      stopped = true;
      process.removeListener('exit', stopSync);
      await exec('pg_ctl', ['-D', dataDir, '-m', 'fast', '-w', 'stop']).catch(() => undefined);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
