/**
 * Command-line flags, one table per command: a flag is one line of its command's table (name, value placeholder or
 * none for a boolean, help text), and the table gives both the parser's rules and the usage text. Unknown flags,
 * a value given to a boolean and a missing value are usage errors naming the flag and the command's usage.
 */
import { UsageError } from '../client/source';

export { UsageError };

export interface FlagSpec {
  /** Placeholder of the flag's value (`DIR`, `N`); absent for a boolean flag. */
  value?: string;
  help: string;
  /** The flag may be given more than once (`--patient A --patient B`): every value is in ParsedArgs.lists. */
  repeatable?: boolean;
}

export type FlagTable = Record<string, FlagSpec>;

export interface ParsedArgs {
  positional: string[];
  flags: Record<string, string | true>;
  /** Every value of each repeatable flag given, in order (absent when none was). */
  lists?: Record<string, string[]>;
}

/** True when argv asks for help (`-h` or `--help` before any `--`). */
export function wantsHelp(argv: string[]): boolean {
  for (const arg of argv) {
    if (arg === '--') return false;
    if (arg === '-h' || arg === '--help') return true;
  }
  return false;
}

/** The option lines of a usage text, from the command's flag table. */
export function flagHelp(table: FlagTable): string {
  const rows = Object.entries(table).map(([name, f]) => [`--${name}${f.value ? ` ${f.value}` : ''}${f.repeatable ? ' ...' : ''}`, f.help]);
  const width = Math.max(0, ...rows.map(([left]) => left.length)) + 2;
  return rows.map(([left, help]) => `  ${left.padEnd(width)}${help}`).join('\n');
}

/**
 * Parses `--name value`, `--name=value` and boolean `--name` against the table; everything else (and anything after
 * `--`) is positional. `usage` is appended to every error so the user sees what the command takes.
 */
export function parseArgs(argv: string[], table: FlagTable, usage: string): ParsedArgs {
  const fail = (message: string): never => {
    throw new UsageError(`${message}\n${usage}`);
  };
  const positional: string[] = [];
  const flags: Record<string, string | true> = {};
  const lists: Record<string, string[]> = {};
  for (let k = 0; k < argv.length; k++) {
    const arg = argv[k];
    if (arg === '--') {
      positional.push(...argv.slice(k + 1));
      break;
    }
    if (!arg.startsWith('-') || arg === '-') {
      positional.push(arg);
      continue;
    }
    if (!arg.startsWith('--')) fail(`unknown flag ${arg}`);
    const eq = arg.indexOf('=');
    const name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
    const spec = Object.prototype.hasOwnProperty.call(table, name) ? table[name] : undefined;
    if (!spec) fail(`unknown flag --${name}`);
    if (name in flags && !spec!.repeatable) fail(`--${name} is given twice`);
    if (!spec!.value) {
      if (eq >= 0) fail(`--${name} takes no value`);
      flags[name] = true;
      continue;
    }
    let value: string | undefined;
    if (eq >= 0) value = arg.slice(eq + 1);
    else if (k + 1 < argv.length && !argv[k + 1].startsWith('--')) value = argv[++k];
    if (value === undefined || value === '') fail(`--${name} needs a value (${spec!.value})`);
    flags[name] = value!;
    if (spec!.repeatable) (lists[name] ??= []).push(value!);
  }
  return Object.keys(lists).length > 0 ? { positional, flags, lists } : { positional, flags };
}

export function str(flags: ParsedArgs['flags'], name: string): string | undefined {
  const v = flags[name];
  return typeof v === 'string' ? v : undefined;
}

/** A positive whole number, or undefined when the flag is absent. */
export function int(flags: ParsedArgs['flags'], name: string): number | undefined {
  const v = str(flags, name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(n) || n <= 0) throw new UsageError(`--${name} must be a positive whole number, got "${v}"`);
  return n;
}

/** A positive number (fractions allowed), or undefined when the flag is absent. */
export function positiveNumber(flags: ParsedArgs['flags'], name: string): number | undefined {
  const v = str(flags, name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!/^\d*\.?\d+$/.test(v) || !(n > 0)) throw new UsageError(`--${name} must be a positive number, got "${v}"`);
  return n;
}
