import { crc32 } from '../../src/io/crc32';
import { decodeEntryName, isMacosMetadata, judgeEntryPath } from '../../src/io/entry-path';

test.each([
  ['a/b.dcm', 'a/b.dcm'],
  ['a/../b.dcm', 'b.dcm'],
  ['./a//b.dcm', 'a/b.dcm'],
  ['a\\b.dcm', 'a/b.dcm'],
  ['..foo/x', '..foo/x'],
])('%s is safe, written at %s', (name, relative) => {
  expect(judgeEntryPath(name)).toEqual({ safe: true, relative });
});

test.each([
  ['../x', 'escapes'],
  ['..', 'escapes'],
  ['a/../../x', 'escapes'],
  ['a/b/../../../x', 'escapes'],
  ['..\\x', 'escapes'],
  ['/etc/passwd', 'absolute'],
  ['\\\\server\\share\\x', 'absolute'],
  ['C:/x', 'drive letter'],
  ['c:x', 'drive letter'],
  ['C:\\Windows\\x', 'drive letter'],
  ['a\0b', 'NUL'],
  ['./', 'empty'],
])('%s is refused (%s)', (name, why) => {
  const verdict = judgeEntryPath(name);
  expect(verdict.safe).toBe(false);
  if (!verdict.safe) expect(verdict.reason).toContain(why);
});

test('macOS metadata is recognised by folder or AppleDouble prefix only', () => {
  expect(isMacosMetadata('__MACOSX/a/b.dcm')).toBe(true);
  expect(isMacosMetadata('x/__MACOSX/b.dcm')).toBe(true);
  expect(isMacosMetadata('x/._b.dcm')).toBe(true);
  expect(isMacosMetadata('x/b._dcm')).toBe(false);
  expect(isMacosMetadata('__MACOSX_not/b.dcm')).toBe(false);
  expect(isMacosMetadata('._b.dcm')).toBe(true);
  expect(isMacosMetadata('x\\._b.dcm')).toBe(true);
  expect(isMacosMetadata('x\\__MACOSX\\b.dcm')).toBe(true);
  expect(isMacosMetadata('._x/b.dcm')).toBe(false);
});

test('names decode as UTF-8 when flagged, via a matching Info-ZIP Unicode Path field, else CP437', () => {
  const cp437 = Buffer.from([0x82, 0x2e, 0x64]); // "é.d" in CP437
  expect(decodeEntryName(Buffer.from('é.d'), 0x800)).toBe('é.d');
  expect(decodeEntryName(cp437, 0)).toBe('é.d');
  const unicodePath = (crc: number, name: string) => {
    const head = Buffer.alloc(5);
    head[0] = 1;
    head.writeUInt32LE(crc, 1);
    return { id: 0x7075, data: Buffer.concat([head, Buffer.from(name)]) };
  };
  expect(decodeEntryName(cp437, 0, [unicodePath(crc32(cp437), 'ü.d')])).toBe('ü.d');
  expect(decodeEntryName(cp437, 0, [unicodePath(crc32(cp437) ^ 1, 'ü.d')])).toBe('é.d'); // stale field: ignored
});

test('crc32 matches the zip CRC of known strings, in one go or in pieces', () => {
  expect(crc32(Buffer.from('123456789'))).toBe(0xcbf43926);
  expect(crc32(Buffer.from('6789'), crc32(Buffer.from('12345')))).toBe(0xcbf43926);
});
