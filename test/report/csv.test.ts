import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { csvCell, csvRow, CsvFileWriter } from '../../src/report/csv';
import { parseCsv } from './helpers';

describe('csvCell', () => {
  it.each([
    ['plain/path.dcm', 'plain/path.dcm'],
    ['a,b.dcm', '"a,b.dcm"'],
    ['say "hi"', '"say ""hi"""'],
    ['two\nlines', '"two\nlines"'],
    ['cr\rhere', '"cr\rhere"'],
    ['', ''],
  ])('quotes %j as RFC 4180 asks', (input, expected) => {
    expect(csvCell(input)).toBe(expected);
  });

  it.each([
    ['=HYPERLINK("http://evil")', `"'=HYPERLINK(""http://evil"")"`],
    ['+1', "'+1"],
    ['-2+3', "'-2+3"],
    ['@SUM(A1)', "'@SUM(A1)"],
    ['\tTAB', "'\tTAB"],
  ])('defuses formula-looking text %j', (input, expected) => {
    expect(csvCell(input)).toBe(expected);
  });

  it('writes numbers as numbers (a negative number is not a formula) and null as empty', () => {
    expect(csvCell(-3)).toBe('-3');
    expect(csvCell(0.625)).toBe('0.625');
    expect(csvCell(null)).toBe('');
    expect(csvCell(undefined)).toBe('');
    expect(csvCell(Number.NaN)).toBe('');
  });

  it('shows control characters (a NUL from a zip entry name) as \\xNN, never raw', () => {
    expect(csvCell('evil\u0000name.dcm')).toBe('evil\\x00name.dcm');
    expect(csvCell('bell\u0007 and del\u007f')).toBe('bell\\x07 and del\\x7f');
    expect(csvCell('tab\tstays')).toBe('tab\tstays');
  });

  it('ends each row with CRLF', () => {
    expect(csvRow(['a', 1, null, 'b,c'])).toBe('a,1,,"b,c"\r\n');
  });
});

describe('CsvFileWriter', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dicomflow-csv-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('streams many rows into a file that parses back to the same cells', () => {
    const file = path.join(dir, 'out.csv');
    const w = new CsvFileWriter(file, ['id', 'text']);
    const expected: string[][] = [['id', 'text']];
    for (let i = 0; i < 5000; i++) {
      const text = `row ${i}, "quoted"\nnext line ${'x'.repeat(i % 50)}`;
      w.write([i, text]);
      expected.push([String(i), text]);
    }
    expect(fs.existsSync(file)).toBe(false); // only the temp file exists until close
    w.close();
    expect(w.rowCount).toBe(5000);
    expect(parseCsv(fs.readFileSync(file, 'utf8'))).toEqual(expected);
    expect(fs.readdirSync(dir)).toEqual(['out.csv']);
  });

  it('abort leaves an earlier complete file untouched and removes the temp file', () => {
    const file = path.join(dir, 'out.csv');
    fs.writeFileSync(file, 'old\r\n');
    const w = new CsvFileWriter(file, ['a']);
    w.write(['new']);
    w.abort();
    expect(fs.readFileSync(file, 'utf8')).toBe('old\r\n');
    expect(fs.readdirSync(dir)).toEqual(['out.csv']);
  });
});
