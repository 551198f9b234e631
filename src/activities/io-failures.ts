/**
 * Failures the activities hand to Temporal's retry policy: the plain I/O code's IoFailure as an ApplicationFailure of
 * the same type, and faults of the disk (full, over quota, read-only, no permission) named with the stage and the
 * full path, as one line a user can act on.
 */
import { ApplicationFailure } from '@temporalio/common';
import { IoFailure } from '../io/errors';
import { ACTIVITY_STAGE, EXPORT_ACTIVITY_STAGE, type StageName } from '../contract';

export function toApplicationFailure(err: unknown): unknown {
  if (!(err instanceof IoFailure)) return err;
  return err.retryable ? ApplicationFailure.retryable(err.message, err.type) : ApplicationFailure.nonRetryable(err.message, err.type);
}


interface DiskFaultKind {
  type: string;
  what: string;
  fix: string;
}

/** Faults of the file system no retry can fix: the user frees space or fixes permissions, then runs again. */
const DISK_FAULTS: Record<string, DiskFaultKind> = {
  ENOSPC: { type: 'DiskFull', what: 'no space left on the device', fix: 'free space there (or use --out on a larger disk)' },
  EDQUOT: { type: 'DiskQuotaExceeded', what: 'disk quota exceeded', fix: 'free space or raise the quota' },
  EROFS: { type: 'ReadOnlyFileSystem', what: 'the file system is read-only', fix: 'use an --out folder on a writable file system' },
  EACCES: { type: 'PermissionDenied', what: 'permission denied', fix: 'give this user access there' },
  EPERM: { type: 'PermissionDenied', what: 'operation not permitted', fix: 'give this user access there' },
  SQLITE_FULL: { type: 'DiskFull', what: 'no space left on the device', fix: 'free space there (or use --db on a larger disk)' },
  SQLITE_READONLY: { type: 'ReadOnlyFileSystem', what: 'the catalog file is read-only', fix: 'make it writable' },
};

/** The path an errno error is about: its `path`/`dest`, else one named in its message ("writing /x/y: ..."). */
function pathOf(err: { path?: unknown; dest?: unknown; message?: unknown }): string | undefined {
  if (typeof err.path === 'string' && err.path) return err.path;
  if (typeof err.dest === 'string' && err.dest) return err.dest;
  const m = typeof err.message === 'string' ? /(\/[^\s:'",]+)/.exec(err.message) : null;
  return m?.[1];
}

/** What a disk fault looks like once named: the stage, the errno code, the path (for the CLI's last line too). */
export interface DiskFault {
  stage: StageName;
  code: string;
  type: string;
  path: string;
  message: string;
}

/**
 * A full, over-quota, read-only or forbidden file system met by `activityType`, as a DiskFault whose message says
 * `no space left on the device (ENOSPC) at <path>; <what to do>` (the workflow adds `stage <name> failed: `); undefined for any other error.
 */
export function diskFault(err: unknown, activityType: string, outDir: string | undefined): DiskFault | undefined {
  const e = err as { code?: unknown; path?: unknown; dest?: unknown; message?: unknown } | null;
  // Also the cause of an error that wraps one (knex, streams).
  const inner = (e as { cause?: typeof e } | null)?.cause;
  const code = typeof e?.code === 'string' ? e.code : typeof inner?.code === 'string' ? inner.code : undefined;
  const kind = code ? DISK_FAULTS[code] : undefined;
  if (!kind || !code) return undefined;
  // An export's stages are named like ingest's in the failure (`stage export failed: ...`).
  const stage = ACTIVITY_STAGE[activityType] ?? ((EXPORT_ACTIVITY_STAGE[activityType] ?? activityType) as StageName);
  const where = pathOf(e!) ?? (inner ? pathOf(inner) : undefined) ?? outDir ?? '(unknown path)';
  return {
    stage,
    code,
    type: kind.type,
    path: where,
    message: `${kind.what} (${code}) at ${where}; ${kind.fix}`,
  };
}

/** The last disk fault an activity of this process met: an in-process worker's CLI prints it when the server cannot. */
let lastFault: DiskFault | undefined;
export function recordDiskFault(fault: DiskFault): void {
  lastFault = fault;
}
export function lastDiskFault(): DiskFault | undefined {
  return lastFault;
}

/** The disk fault as the non-retryable ApplicationFailure the workflow reports (`stage <name> failed: ...`). */
export function diskFailure(fault: DiskFault, cause: unknown): ApplicationFailure {
  return ApplicationFailure.create({ type: fault.type, message: fault.message, nonRetryable: true, cause: cause instanceof Error ? cause : undefined });
}
