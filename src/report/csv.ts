/**
 * RFC 4180 CSV writing for the report files. Paths and tag values come from untrusted zips, so text
 * cells are also guarded against spreadsheet formula injection.
 */
import * as fs from 'fs';

export type CsvCell = string | number | null | undefined;

/** Spreadsheets treat a cell starting with one of these as a formula (OWASP "CSV injection"). */
const FORMULA_START = /^[=+\-@\t\r]/;
/** A cell holding one of these must be quoted (RFC 4180 section 2.6). */
const NEEDS_QUOTES = /[",\r\n]/;
/** Control characters other than tab, CR and LF (a NUL from a zip entry name breaks most CSV readers): shown as \xNN. */
const CONTROL = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/g;

/**
 * One cell. Text that a spreadsheet would run as a formula gets a leading single quote; numbers are
 * written as numbers (a negative number is not a formula). null/undefined become an empty cell.
 */
export function csvCell(value: CsvCell): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : '';
  let text = value.replace(CONTROL, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  if (FORMULA_START.test(text)) text = `'${text}`;
  return NEEDS_QUOTES.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** One record with its CRLF line end (RFC 4180 section 2.1). */
export function csvRow(cells: readonly CsvCell[]): string {
  return cells.map(csvCell).join(',') + '\r\n';
}

/**
 * Writes a CSV file row by row without holding it in memory. Rows go to `<file>.tmp` and the file
 * appears under its name only on close(), so a reader (or a retried activity) never sees half a file.
 */
export class CsvFileWriter {
  private readonly tmp: string;
  private readonly fd: number;
  private buffer: string[] = [];
  private bufferedChars = 0;
  rowCount = 0;

  constructor(private readonly file: string, header: readonly string[]) {
    this.tmp = `${file}.tmp`;
    this.fd = fs.openSync(this.tmp, 'w');
    this.push(csvRow(header));
  }

  /** Adds one data row (the header is not counted). */
  write(cells: readonly CsvCell[]): void {
    this.push(csvRow(cells));
    this.rowCount++;
  }

  close(): void {
    this.flush();
    fs.closeSync(this.fd);
    fs.renameSync(this.tmp, this.file);
  }

  /** Closes and deletes the temp file after a failure, leaving any earlier complete file alone. */
  abort(): void {
    try {
      fs.closeSync(this.fd);
    } catch {
      /* already closed */
    }
    fs.rmSync(this.tmp, { force: true });
  }

  private push(line: string): void {
    this.buffer.push(line);
    this.bufferedChars += line.length;
    if (this.bufferedChars >= 1 << 16) this.flush();
  }

  private flush(): void {
    if (this.buffer.length === 0) return;
    fs.writeSync(this.fd, this.buffer.join(''));
    this.buffer = [];
    this.bufferedChars = 0;
  }
}
