import { createHash } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { sha256File, sha256InThread, sha256SmallFiles } from '../../src/io/sha256';

let root: string;
beforeEach(() => (root = fs.mkdtempSync(path.join(os.tmpdir(), 'sha256-'))));
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

/** A file of `bytes` pseudo-random bytes and its hash as crypto takes it in one piece. */
function fileOf(name: string, bytes: number): { file: string; hex: string } {
  const data = Buffer.alloc(bytes);
  for (let k = 0; k < bytes; k++) data[k] = (k * 2654435761) >>> 24;
  const file = path.join(root, name);
  fs.writeFileSync(file, data);
  return { file, hex: createHash('sha256').update(data).digest('hex') };
}

test('a small file (one read), a streamed one and one on a thread of its own hash alike', async () => {
  const small = fileOf('small.bin', 3000);
  expect(sha256SmallFiles([small.file])).toEqual([small.hex]);
  // Over the one-read size and over the thread's 4 MiB chunk: several chunks each way.
  const big = fileOf('big.bin', 9 * 1024 * 1024 + 17);
  const progress: number[] = [];
  expect(await sha256File(big.file, { onProgress: (n) => progress.push(n) })).toBe(big.hex);
  expect(progress[progress.length - 1]).toBe(9 * 1024 * 1024 + 17);
  expect(await sha256InThread(big.file)).toBe(big.hex);
  expect(await sha256InThread(fileOf('empty.bin', 0).file)).toBe(createHash('sha256').digest('hex'));
});

test('a thread that cannot read its file rejects with the cause; a stopped one rejects at once', async () => {
  await expect(sha256InThread(path.join(root, 'missing.zip'))).rejects.toMatchObject({ code: 'ENOENT' });
  const stop = new AbortController();
  const hashing = sha256InThread(fileOf('big.bin', 64 * 1024 * 1024).file, stop.signal);
  stop.abort();
  await expect(hashing).rejects.toThrow(/exited/);
});
