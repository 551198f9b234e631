/**
 * What the browser shows of a run beyond its catalog row: its status and duration, read from the structured log
 * DIR/logs/dicomflow.jsonl (each activity's start, end and failure, with the workflow id), and its report files
 * under DIR/reports/runs/<key>/, served only by name from that folder's own listing.
 */
import * as fs from 'fs';
import * as path from 'path';
import { logFile } from '../../log';
import { scratchKey, SCRATCH_KEY_PATTERN } from '../../contract';
import { workspace } from '../../workspace';

export interface RunActivity {
  /** The first activity's start and the last event's time (ISO). */
  firstAt: string;
  lastAt: string;
  /** The last activity event: `<activity> finished` / `<activity> failed: <error>`. */
  last: { activity: string; msg: string; error?: string };
  /** The report activity finished: the run's outputs are all written. */
  reported: boolean;
}

interface LogState {
  offset: number;
  rest: string;
  runs: Map<string, RunActivity>;
}

const states = new Map<string, LogState>();

/** Bytes of the log read per request at most; a bigger backlog is read over the next requests. */
const READ_LIMIT = 64 * 2 ** 20;

/** Each workflow's activity in DIR's log, read incrementally (only what was appended since the last call). */
export function runActivity(outDir: string): Map<string, RunActivity> {
  const file = logFile(outDir);
  let state = states.get(file);
  let size: number;
  try {
    size = fs.statSync(file).size;
  } catch {
    return new Map();
  }
  if (!state || size < state.offset) states.set(file, (state = { offset: 0, rest: '', runs: new Map() }));
  if (size > state.offset) {
    const length = Math.min(size - state.offset, READ_LIMIT);
    const buf = Buffer.alloc(length);
    const fd = fs.openSync(file, 'r');
    try {
      fs.readSync(fd, buf, 0, length, state.offset);
    } finally {
      fs.closeSync(fd);
    }
    state.offset += length;
    const lines = (state.rest + buf.toString('utf8')).split('\n');
    state.rest = lines.pop() ?? '';
    for (const line of lines) take(state.runs, line);
  }
  return state.runs;
}

function take(runs: Map<string, RunActivity>, line: string): void {
  if (!line.includes('"workflowId"')) return;
  let e: { ts?: string; stage?: string; msg?: string; workflowId?: string; error?: string };
  try {
    e = JSON.parse(line);
  } catch {
    return;
  }
  if (!e.workflowId || !e.ts || !e.stage || !e.msg) return;
  let r = runs.get(e.workflowId);
  if (!r) runs.set(e.workflowId, (r = { firstAt: e.ts, lastAt: e.ts, last: { activity: e.stage, msg: e.msg }, reported: false }));
  if (e.ts > r.lastAt) r.lastAt = e.ts;
  if (e.msg === 'finished' || e.msg === 'failed') r.last = { activity: e.stage, msg: e.msg, ...(e.error ? { error: e.error } : {}) };
  if (e.msg === 'finished' && /report/i.test(e.stage)) r.reported = true;
}

/** A run's status in words and its duration in seconds (first activity to last event), from the log. */
export function runStatus(a: RunActivity | undefined, loaded: boolean): { status: string; detail?: string; seconds: number | null } {
  if (!a) return { status: loaded ? 'loaded' : 'unknown', seconds: null };
  const seconds = (Date.parse(a.lastAt) - Date.parse(a.firstAt)) / 1000;
  if (a.last.msg === 'failed') return { status: 'failed', detail: `${a.last.activity}: ${a.last.error ?? 'failed'}`, seconds };
  if (a.reported) return { status: 'completed', seconds };
  return { status: loaded ? 'loaded' : 'running', seconds };
}

/** The run's reports folder, or null (no DIR, or a run of the layout without per-run reports). */
export function reportsDir(outDir: string | undefined, runId: string): string | null {
  if (!outDir) return null;
  const key = scratchKey(runId);
  if (!SCRATCH_KEY_PATTERN.test(key)) return null;
  const dir = workspace(outDir, key).reportsDir;
  return fs.existsSync(dir) ? dir : null;
}

/**
 * A report file by its name in the run's reports folder: `report.html`, `validation.csv`, `thumbnails/x.png`.
 * Each part must be a name the folder lists (no `..`, no separators, no links out): anything else is null.
 */
export function reportFile(dir: string, parts: string[]): string | null {
  if (parts.length === 0 || parts.length > 2) return null;
  let current = dir;
  for (const [k, part] of parts.entries()) {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(current, { withFileTypes: true });
    } catch {
      return null;
    }
    const entry = entries.find((d) => d.name === part);
    if (!entry) return null;
    const last = k === parts.length - 1;
    if (last ? !entry.isFile() : !(entry.isDirectory() && part === 'thumbnails')) return null;
    current = path.join(current, entry.name);
  }
  return current;
}

export const REPORT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.csv': 'text/csv; charset=utf-8',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.json': 'application/json',
};
