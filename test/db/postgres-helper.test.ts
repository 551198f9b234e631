/** The throw-away PostgreSQL helper: found where Debian puts it, a clear error naming the install command when absent. */
import * as fs from 'fs';
import * as path from 'path';
import { findPostgresBin } from '../helpers/postgres';
import { removeTempDirs, tempDir } from './fixtures';
import { POSTGRES, requireTool } from '../helpers/tools';

afterAll(removeTempDirs);

test('missing server binaries fail with the install hint', () => {
  expect(() => findPostgresBin({ base: path.join(tempDir(), 'none') })).toThrow(/apt-get install -y postgresql/);
});

test('the newest version under the base dir wins, PG_BIN first', () => {
  const base = tempDir();
  for (const v of ['9.6', '15', '13']) {
    fs.mkdirSync(path.join(base, v, 'bin'), { recursive: true });
    for (const exe of ['initdb', 'pg_ctl']) fs.writeFileSync(path.join(base, v, 'bin', exe), '');
  }
  expect(findPostgresBin({ base })).toBe(path.join(base, '15', 'bin'));
  expect(findPostgresBin({ base, pgBin: path.join(base, '13', 'bin') })).toBe(path.join(base, '13', 'bin'));
});

const postgres = requireTool(POSTGRES);
postgres.test('this machine has a PostgreSQL server for the catalog tests', () => {
  expect(fs.existsSync(path.join(postgres.path(), 'initdb'))).toBe(true);
});
