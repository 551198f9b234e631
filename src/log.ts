/**
 * The structured log every stage writes to: one JSON object per line in DIR/logs/dicomflow.jsonl.
 * Logging must never be the reason a stage fails, so every error in here is swallowed.
 */
import * as fs from 'fs';
import * as path from 'path';
import { workspace } from './workspace';

export type LogLevel = 'info' | 'warn' | 'error';

export const LOG_FILE_NAME = 'dicomflow.jsonl';

/** Absolute path of the structured log of an output folder. */
export function logFile(outDir: string): string {
  return path.join(workspace(outDir).logsDir, LOG_FILE_NAME);
}

/** The four keys every line has; fields with these names cannot overwrite them. */
const CORE_KEYS = new Set(['ts', 'level', 'stage', 'msg']);

/** Folders already created in this process, so a busy stage does not mkdir on every line. */
const createdDirs = new Set<string>();

/** Appends one JSON line {ts, level, stage, msg, ...fields} to workspace(outDir).logsDir/dicomflow.jsonl. */
export function logEvent(
  outDir: string,
  level: LogLevel,
  stage: string,
  msg: string,
  fields?: Record<string, unknown>,
): void {
  try {
    const file = logFile(outDir);
    const dir = path.dirname(file);
    if (!createdDirs.has(dir)) {
      fs.mkdirSync(dir, { recursive: true });
      createdDirs.add(dir);
    }
    fs.appendFileSync(file, formatLine(level, stage, msg, fields) + '\n');
  } catch {
    // A full disk or a vanished folder must not fail the stage that is logging.
    createdDirs.clear();
  }
}

/** One log line, without the newline. Never throws: fields that do not serialise are replaced by a note. */
export function formatLine(level: LogLevel, stage: string, msg: string, fields?: Record<string, unknown>): string {
  const line: Record<string, unknown> = { ts: new Date().toISOString(), level, stage, msg };
  for (const [key, value] of Object.entries(fields ?? {})) {
    if (!CORE_KEYS.has(key)) line[key] = value;
  }
  try {
    return JSON.stringify(line, jsonSafe);
  } catch (err) {
    // Circular structures and the like: keep the message, say why the fields are missing.
    const { ts } = line;
    return JSON.stringify({ ts, level, stage, msg, logError: `fields not serialisable: ${describe(err)}` });
  }
}

/** JSON.stringify replacer for values it would drop or throw on: errors, bigints. */
function jsonSafe(_key: string, value: unknown): unknown {
  if (value instanceof Error) return { name: value.name, message: value.message, stack: value.stack };
  if (typeof value === 'bigint') return value.toString();
  return value;
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
