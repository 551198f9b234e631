/** Runs the real `dicomflow ingest` command as a user would, and times it. */
import Database from 'better-sqlite3';
import { spawn } from 'child_process';
import * as path from 'path';

const BIN = path.resolve(__dirname, '../../bin/dicomflow.js');

export interface CliRun {
  /** spawn to exit */
  totalMs: number;
  /** spawn until the run started: starting the embedded Temporal server and connecting to it */
  startupMs: number;
  /** the stage times the command printed ("time per stage: extract 1.9 s, ..."), in ms */
  stagesMs: Record<string, number>;
  /** rows in DIR/dicom.db's dicom_metadata */
  rows: number;
}

function node(args: string[], onLine: (line: string) => void): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    let partial = '';
    const take = (chunk: Buffer) => {
      output += chunk.toString();
      const lines = (partial + chunk.toString()).split('\n');
      partial = lines.pop()!;
      for (const line of lines) onLine(line);
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

/** `dicomflow ingest <zip> --out <outDir>`, then `dicomflow server stop --out <outDir>` (not timed). */
export async function dicomflowIngest(zipPath: string, outDir: string): Promise<CliRun> {
  const t0 = performance.now();
  let startupMs = NaN;
  let stagesLine = '';
  try {
    const { code, output } = await node(['ingest', zipPath, '--out', outDir], (line) => {
      if (line.startsWith('Started run') && Number.isNaN(startupMs)) startupMs = performance.now() - t0;
      if (line.includes('time per stage:')) stagesLine = line;
    });
    const totalMs = performance.now() - t0;
    if (code !== 0) throw new Error(`dicomflow ingest exited with ${code}:\n${output}`);
    const stagesMs: Record<string, number> = {};
    for (const m of stagesLine.matchAll(/(\w+) ([\d.]+) s/g)) stagesMs[m[1]] = Number(m[2]) * 1000;
    const db = new Database(path.join(outDir, 'dicom.db'), { readonly: true });
    try {
      const rows = (db.prepare('SELECT COUNT(*) AS n FROM dicom_metadata').get() as { n: number }).n;
      return { totalMs, startupMs, stagesMs, rows };
    } finally {
      db.close();
    }
  } finally {
    await node(['server', 'stop', '--out', outDir], () => undefined);
  }
}
