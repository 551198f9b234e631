import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { countLines, jsonLineCursor, openAppender, readAllJsonLines, writeJsonLines } from '../../src/io/jsonl';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jsonl-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

test('writeJsonLines writes every record, creates folders, leaves no temp file', async () => {
  const file = path.join(dir, 'a', 'b', 'out.jsonl');
  const records = Array.from({ length: 20000 }, (_, i) => ({ i, s: 'é\n"x"'.repeat(i % 5) }));
  expect(await writeJsonLines(file, records)).toBe(20000);
  expect(await readAllJsonLines(file)).toEqual(records);
  expect(fs.readdirSync(path.dirname(file))).toEqual(['out.jsonl']);
});

test('writeJsonLines takes an async iterable', async () => {
  const file = path.join(dir, 'out.jsonl');
  async function* gen() {
    for (let i = 0; i < 3; i++) yield { i };
  }
  expect(await writeJsonLines(file, gen())).toBe(3);
  expect(await readAllJsonLines(file)).toEqual([{ i: 0 }, { i: 1 }, { i: 2 }]);
});

test('writeJsonLines is atomic: a failing source leaves the old file intact and no temp file', async () => {
  const file = path.join(dir, 'out.jsonl');
  await writeJsonLines(file, [{ old: true }]);
  async function* failing() {
    yield { new: 1 };
    throw new Error('source broke');
  }
  await expect(writeJsonLines(file, failing())).rejects.toThrow('source broke');
  expect(await readAllJsonLines(file)).toEqual([{ old: true }]);
  expect(fs.existsSync(file + '.tmp')).toBe(false);
});

test('lines longer and shorter than a read, across read boundaries, come back whole and in order', async () => {
  const file = path.join(dir, 'big.jsonl');
  const records = Array.from({ length: 700 }, (_, k) => ({ k, text: 'é山'.repeat((k * 997) % 3000), tail: k % 7 === 0 ? 'x'.repeat(300_000) : '' }));
  await writeJsonLines(file, records);
  expect(fs.statSync(file).size).toBeGreaterThan(3 * 1024 * 1024); // several reads of a MiB
  expect(await readAllJsonLines(file)).toEqual(records);
});

test('readJsonLines names the file and line of a broken line', async () => {
  const file = path.join(dir, 'bad.jsonl');
  fs.writeFileSync(file, '{"a":1}\n\n{oops\n');
  await expect(readAllJsonLines(file)).rejects.toThrow(`${file}:3: not a JSON line`);
});

test('appender: nothing at the final name before commit; resume truncates to the checkpoint', async () => {
  const file = path.join(dir, 'long.jsonl');
  const first = await openAppender(file);
  await first.append({ n: 0 });
  await first.append({ n: 1 });
  const checkpoint = first.bytesWritten();
  expect(first.count()).toBe(2);
  await first.append({ n: 2 }); // written after the last heartbeat: must be dropped on resume
  await first.close();
  expect(fs.existsSync(file)).toBe(false);
  expect(fs.statSync(file + '.partial').size).toBeGreaterThan(checkpoint);

  const second = await openAppender(file, { resumeBytes: checkpoint });
  expect(second.count()).toBe(2);
  expect(second.bytesWritten()).toBe(checkpoint);
  await second.append({ n: 2 });
  await second.append({ n: 3 });
  expect(second.count()).toBe(4);
  expect(second.bytesWritten()).toBe(fs.statSync(file + '.partial').size);
  await second.commit();
  expect(await readAllJsonLines(file)).toEqual([{ n: 0 }, { n: 1 }, { n: 2 }, { n: 3 }]);
  expect(fs.existsSync(file + '.partial')).toBe(false);
});

test('appender without resumeBytes starts a fresh partial file', async () => {
  const file = path.join(dir, 'long.jsonl');
  const first = await openAppender(file);
  await first.append({ stale: true });
  await first.close();
  const second = await openAppender(file);
  await second.append({ fresh: true });
  await second.commit();
  expect(await readAllJsonLines(file)).toEqual([{ fresh: true }]);
});

test('appender refuses to resume past the end of the partial file', async () => {
  const file = path.join(dir, 'long.jsonl');
  await expect(openAppender(file, { resumeBytes: 10 })).rejects.toThrow('cannot resume');
});

test('jsonLineCursor pulls every record in order across MiB reads, multi-byte text cut anywhere, blank and unterminated lines', () => {
  const file = path.join(dir, 'cursor.jsonl');
  // ~3 MiB of lines of varying length with multi-byte characters, so reads end mid-line and mid-character.
  const records = Array.from({ length: 30000 }, (_, i) => ({ i, s: 'é€😀'.repeat(i % 23) }));
  const text = records.map((r, k) => JSON.stringify(r) + (k % 1000 === 0 ? '\n\n' : '\n')).join('');
  fs.writeFileSync(file, text + JSON.stringify({ i: 'last' })); // no newline after the last record
  const cursor = jsonLineCursor<{ i: number | string }>(file);
  const got: unknown[] = [];
  for (let r = cursor.next(); r !== undefined; r = cursor.next()) got.push(r);
  cursor.close();
  expect(got).toEqual([...records, { i: 'last' }]);

  fs.writeFileSync(file, '{"a":1}\n{"a":\n');
  const bad = jsonLineCursor(file);
  expect(bad.next()).toEqual({ a: 1 });
  expect(() => bad.next()).toThrow(`${file}:2: not a JSON line`);
  bad.close();
});

test('countLines counts newlines across MiB reads; an empty file has none, an unterminated last line is not counted', async () => {
  const file = path.join(dir, 'count.jsonl');
  const long = 'x'.repeat(3 * 1024 * 1024 + 7); // a line longer than three reads
  const text = ['{}', long, '', 'é'.repeat(100_000), '{"a":1}'].join('\n') + '\n' + 'no newline';
  fs.writeFileSync(file, text);
  expect(await countLines(file)).toBe(5);
  fs.writeFileSync(file, '');
  expect(await countLines(file)).toBe(0);
  await expect(countLines(path.join(dir, 'missing.jsonl'))).rejects.toMatchObject({ code: 'ENOENT' });
});
