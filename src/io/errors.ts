/**
 * Failures of the plain I/O code, with a stable type name and whether trying again can help.
 * The Temporal activities turn these into ApplicationFailures of the same type; nothing here knows Temporal.
 */
export class IoFailure extends Error {
  constructor(
    message: string,
    /** Stable machine-readable name, e.g. 'HttpClientError', 'NotAZip', 'ZipTooLarge'. */
    readonly type: string,
    /** False when the same input will fail the same way again. */
    readonly retryable: boolean,
  ) {
    super(message);
    this.name = 'IoFailure';
  }
}

/** A URL fit for messages and logs: no user:password, no query string or fragment (presigned URLs carry secrets there). */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return url.replace(/[?#].*$/, '').replace(/\/\/[^/@]*@/, '//');
  }
}

/** 1.5 GiB, 12 MiB, 300 B: sizes for messages. */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${n} B` : `${Number(value.toFixed(value < 10 ? 2 : 1))} ${units[unit]}`;
}

/**
 * Names the file an I/O error is about when Node did not (writes through a file handle carry no path): sets
 * `path` on the error unless it has one, and returns it. For the messages of a full or read-only disk.
 */
export function withPath<E>(err: E, file: string): E {
  if (err && typeof err === 'object' && 'code' in err && !(err as { path?: unknown }).path) (err as { path?: string }).path = file;
  return err;
}
