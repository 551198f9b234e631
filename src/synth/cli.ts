/** `dicomflow synth --patients N [--slices M] [--size PX] [--broken] [--deflate] [--seed S] --out X.zip` */
import { synthesize, planOptions, DEFAULT_SEED, DEFAULT_SIZE, DEFAULT_SLICES } from './synthesize';
import type { SynthOptions } from './types';

export const SYNTH_USAGE = `usage: dicomflow synth --patients N [--slices M] [--size PX] [--broken] [--deflate] [--seed S] --out X.zip
  --patients N  number of patients (each: a CT series of M slices and a CR or DX image)
  --slices M    CT slices per patient (default ${DEFAULT_SLICES})
  --size PX     CT rows and columns (default ${DEFAULT_SIZE})
  --broken      add broken, duplicate, conflicting, unsafe and nested entries
  --deflate     deflate the DICOM entries too, as zip -r does (default: stored; CT then zips to ~45 %)
  --seed S      seed of every generated value (default ${DEFAULT_SEED}); same options, same bytes
  --out X.zip   the zip to write`;

class UsageError extends Error {}

export function parseSynthArgs(argv: string[]): SynthOptions {
  const opts: Partial<SynthOptions> = {};
  const numberArg = (flag: string, v: string | undefined): number => {
    if (v === undefined || !/^\d+$/.test(v)) throw new UsageError(`${flag} needs a whole number, got ${v === undefined ? 'nothing' : `'${v}'`}`);
    return Number(v);
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const [flag, inline] = arg.startsWith('--') && arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const value = () => (inline !== undefined ? inline : argv[++i]);
    switch (flag) {
      case '--patients': opts.patients = numberArg(flag, value()); break;
      case '--slices': opts.slices = numberArg(flag, value()); break;
      case '--size': opts.size = numberArg(flag, value()); break;
      case '--seed': opts.seed = numberArg(flag, value()); break;
      case '--broken': opts.broken = true; break;
      case '--deflate': opts.deflate = true; break;
      case '--out': {
        const v = value();
        if (!v || v.startsWith('--')) throw new UsageError('--out needs a file name');
        opts.out = v;
        break;
      }
      default: throw new UsageError(`unknown argument '${arg}'`);
    }
  }
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
  if (argv.includes('--help') || argv.includes('-h')) {
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
      `dicomflow synth: wrote ${opts.out}: ${m.entries.length} entries (${statuses}), ${m.instances.length} instances in ${m.series.length} series of ${patients} patients, ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
    return 0;
  } catch (e) {
    console.error(`dicomflow synth: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  }
}
