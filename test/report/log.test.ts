import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { logEvent, logFile } from '../../src/log';

describe('logEvent', () => {
  let outDir: string;
  beforeEach(() => (outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dicomflow-log-'))));
  afterEach(() => fs.rmSync(outDir, { recursive: true, force: true }));

  const lines = () => fs.readFileSync(logFile(outDir), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));

  it('appends one JSON line per event under DIR/logs, creating the folder', () => {
    expect(logFile(outDir)).toBe(path.join(outDir, 'logs', 'dicomflow.jsonl'));
    logEvent(outDir, 'info', 'extract', 'started', { entries: 3 });
    logEvent(outDir, 'warn', 'validate', 'odd file\nwith "quotes"', { file: 'a,b.dcm' });
    const [a, b] = lines();
    expect(a).toMatchObject({ level: 'info', stage: 'extract', msg: 'started', entries: 3 });
    expect(Object.keys(a).slice(0, 4)).toEqual(['ts', 'level', 'stage', 'msg']);
    expect(new Date(a.ts).toISOString()).toBe(a.ts);
    expect(b).toMatchObject({ level: 'warn', stage: 'validate', msg: 'odd file\nwith "quotes"', file: 'a,b.dcm' });
    expect(lines()).toHaveLength(2);
  });

  it('keeps its own keys when fields use the same names, and serialises errors and bigints', () => {
    logEvent(outDir, 'error', 'load', 'insert failed', { level: 'fake', msg: 'fake', err: new Error('disk full'), rows: 10n });
    const [l] = lines();
    expect(l.level).toBe('error');
    expect(l.msg).toBe('insert failed');
    expect(l.err).toMatchObject({ name: 'Error', message: 'disk full' });
    expect(l.rows).toBe('10');
  });

  it('never throws: unserialisable fields are noted, an unwritable folder is ignored', () => {
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    expect(() => logEvent(outDir, 'info', 'report', 'circular', { circular })).not.toThrow();
    expect(lines()[0]).toMatchObject({ msg: 'circular', logError: expect.stringMatching(/not serialisable/) });

    const blocked = path.join(outDir, 'blocked');
    fs.writeFileSync(blocked, 'a file where the output folder should be');
    expect(() => logEvent(blocked, 'info', 'report', 'nowhere to write')).not.toThrow();
  });
});
