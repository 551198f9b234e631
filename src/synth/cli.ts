/** `dicomflow synth --patients N [--slices M] [--size PX] [--broken] [--deflate] [--seed S] --out X.zip` */
import { synthesize, planOptions, DEFAULT_SEED, DEFAULT_SIZE, DEFAULT_SLICES } from './synthesize';
import type { SynthOptions } from './types';
import { plural } from '../text';
import { flagHelp, parseArgs, str, wantsHelp, UsageError, type FlagTable } from '../cli/args';

/** synth's flags: one line each (a flag without `value` is a boolean). */
export const SYNTH_FLAGS: FlagTable = {
  patients: { value: 'N', help: 'number of patients (each: a CT series of M slices and a CR or DX image)' },
  slices: { value: 'M', help: `CT slices per patient (default ${DEFAULT_SLICES})` },
  size: { value: 'PX', help: `CT rows and columns (default ${DEFAULT_SIZE})` },
  broken: { help: 'add broken, duplicate, conflicting, unsafe and nested entries' },
  deflate: { help: 'deflate the DICOM entries too, as zip -r does (default: stored; CT then zips to ~45 %)' },
  seed: { value: 'S', help: `seed of every generated value (default ${DEFAULT_SEED}); same options, same bytes` },
  out: { value: 'X.zip', help: 'the zip to write' },
};

export const SYNTH_USAGE = `usage: dicomflow synth --patients N [--slices M] [--size PX] [--broken] [--deflate] [--seed S] --out X.zip
${flagHelp(SYNTH_FLAGS)}`;

/** Usage errors carry only the reason; synthCommand adds the usage. */
function wholeNumber(flag: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v)) throw new UsageError(`--${flag} needs a whole number, got '${v}'`);
  return Number(v);
}

export function parseSynthArgs(argv: string[]): SynthOptions {
  let parsed;
  try {
    parsed = parseArgs(argv, SYNTH_FLAGS, '');
  } catch (e) {
    throw e instanceof UsageError ? new UsageError(e.message.trimEnd()) : e;
  }
  const { positional, flags } = parsed;
  if (positional.length > 0) throw new UsageError(`synth takes no positional argument, got '${positional[0]}'`);
  const opts: Partial<SynthOptions> = {};
  for (const name of ['patients', 'slices', 'size', 'seed'] as const) {
    const n = wholeNumber(name, str(flags, name));
    if (n !== undefined) opts[name] = n;
  }
  if (flags.broken) opts.broken = true;
  if (flags.deflate) opts.deflate = true;
  const out = str(flags, 'out');
  if (out !== undefined) opts.out = out;
  if (opts.patients === undefined) throw new UsageError('--patients is required');
  if (opts.out === undefined) throw new UsageError('--out is required');
  if (!opts.out.toLowerCase().endsWith('.zip')) throw new UsageError(`--out must name a .zip file, got '${opts.out}'`);
  try {
    planOptions(opts as SynthOptions); // ranges
  } catch (e) {
    throw new UsageError(e instanceof Error ? e.message : String(e));
  }
  return opts as SynthOptions;
}

/** Runs the command; returns the exit code (0 done, 2 usage error, 1 failure). */
export async function synthCommand(argv: string[]): Promise<number> {
  if (wantsHelp(argv)) {
    console.log(SYNTH_USAGE);
    return 0;
  }
  let opts: SynthOptions;
  try {
    opts = parseSynthArgs(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    console.error(`dicomflow synth: ${e.message}\n${SYNTH_USAGE}`);
    return 2;
  }
  try {
    const started = Date.now();
    const m = await synthesize(opts);
    const byStatus = new Map<string, number>();
    for (const e of m.entries) byStatus.set(e.status, (byStatus.get(e.status) ?? 0) + 1);
    const statuses = [...byStatus].map(([s, n]) => `${n} ${s}`).join(', ');
    const patients = new Set(m.instances.map((i) => i.patientId)).size;
    console.log(
      `dicomflow synth: wrote ${opts.out}: ${plural(m.entries.length, 'entry', 'entries')} (${statuses}), ` +
        `${plural(m.instances.length, 'instance')} in ${plural(m.series.length, 'series', 'series')} of ${plural(patients, 'patient')}, ` +
        `${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
    return 0;
  } catch (e) {
    console.error(`dicomflow synth: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  }
}
