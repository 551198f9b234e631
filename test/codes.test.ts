/**
 * The validation code taxonomy is documented and exercised: README's table is exactly `dicomflow codes`,
 * and every code is asserted by at least one test (a fixture that triggers it).
 */
import * as fs from 'fs';
import * as path from 'path';
import { codeList } from '../src/dicom/codes';

const root = path.join(__dirname, '..');

function testSources(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return e.name === 'fixtures' ? [] : testSources(p);
    return p.endsWith('.ts') && p !== __filename ? [fs.readFileSync(p, 'utf8')] : [];
  });
}

test("README's code table is the output of `dicomflow codes`", () => {
  const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
  for (const c of codeList()) {
    expect(readme).toContain(`| \`${c.code}\` | ${c.level} | ${c.status} | ${c.meaning} |`);
  }
});

test('every code is expected by some test', () => {
  const sources = testSources(__dirname).join('\n');
  const untested = codeList()
    .map((c) => c.code)
    .filter((code) => code !== 'OK' && !new RegExp(`['"\`]${code}['"\`]`).test(sources));
  expect(untested).toEqual([]);
});
