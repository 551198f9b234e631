/**
 * The OHIF viewer's built app (`@ohif/app`'s dist/), kept in dicomflow's cache: fetched once by `dicomflow setup`
 * with `npm pack` (the package cannot be installed with npm: one of its dependencies is not in the registry, and
 * only its prebuilt dist/ is needed), its tarball checked against the registry's sha512 integrity pinned below,
 * and only dist/ extracted (without source maps).
 */
import { spawnSync } from 'child_process';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

export const OHIF_PACKAGE = '@ohif/app';
export const OHIF_VERSION = '3.13.2';
/** `npm view @ohif/app@3.13.2 dist.integrity`: the tarball must have exactly this sha512. */
export const OHIF_INTEGRITY = 'sha512-WZdxmpmG7rqFgW9ZJLcbgr3XCtLi1KDNPoMaeY5PPe6j4G4fjEjjkycZM6C6Zk2F87BKxFfpq+jd5xXZB9E8EA==';

/** ~/.cache/dicomflow (or $DICOMFLOW_CACHE), as for the Temporal CLI. */
function cacheBase(): string {
  return process.env.DICOMFLOW_CACHE || path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'dicomflow');
}

/** Where the app is kept: <cache>/ohif-app-3.13.2/dist. */
export function ohifDir(): string {
  return path.join(cacheBase(), `ohif-app-${OHIF_VERSION}`);
}

/** The app's dist/ folder when it is in the cache (complete), else null. */
export function findOhif(): string | null {
  const dist = path.join(ohifDir(), 'dist');
  return fs.existsSync(path.join(dist, 'index.html')) && fs.existsSync(path.join(ohifDir(), 'integrity')) ? dist : null;
}

function npmCommand(): string {
  // npm next to this node (its installs put it there), else the one on PATH.
  const beside = path.join(path.dirname(process.execPath), 'npm');
  return fs.existsSync(beside) ? beside : 'npm';
}

/** Fetches the app into the cache once; returns its dist/ folder. Throws with the reason when it cannot. */
export function installOhif(log: (msg: string) => void = (m) => process.stderr.write(m + '\n')): string {
  const found = findOhif();
  if (found) return found;
  fs.mkdirSync(cacheBase(), { recursive: true });
  const work = fs.mkdtempSync(path.join(cacheBase(), `.ohif-${process.pid}-`));
  try {
    log(`Fetching the OHIF viewer ${OHIF_PACKAGE}@${OHIF_VERSION} once into ${ohifDir()} (a 50 MB tarball; later runs reuse it)...`);
    const started = Date.now();
    const pack = spawnSync(npmCommand(), ['pack', `${OHIF_PACKAGE}@${OHIF_VERSION}`, '--pack-destination', work, '--silent'], {
      cwd: work,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const tgz = path.join(work, `ohif-app-${OHIF_VERSION}.tgz`);
    if (pack.status !== 0 || !fs.existsSync(tgz)) {
      throw new Error(`npm pack ${OHIF_PACKAGE}@${OHIF_VERSION} failed (exit ${pack.status}): ${(pack.stderr || pack.error?.message || '').trim().split('\n').slice(-3).join(' ')}`);
    }
    const integrity = `sha512-${createHash('sha512').update(fs.readFileSync(tgz)).digest('base64')}`;
    if (integrity !== OHIF_INTEGRITY) throw new Error(`the ${OHIF_PACKAGE}@${OHIF_VERSION} tarball has integrity ${integrity}, not the registry's ${OHIF_INTEGRITY}: not used`);
    const staging = path.join(work, 'app');
    fs.mkdirSync(staging);
    const tar = spawnSync('tar', ['-xzf', tgz, '-C', staging, '--strip-components=1', '--no-same-owner', '--exclude=*.map', 'package/dist'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    if (tar.status !== 0 || !fs.existsSync(path.join(staging, 'dist', 'index.html'))) {
      throw new Error(`extracting dist/ from the tarball failed (tar exit ${tar.status}): ${(tar.stderr || tar.error?.message || '').trim()}`);
    }
    fs.writeFileSync(path.join(staging, 'integrity'), `${OHIF_INTEGRITY}\n`);
    // A copy left incomplete (no integrity file: an interrupted setup of an earlier version) is replaced.
    if (fs.existsSync(ohifDir()) && !findOhif()) fs.rmSync(ohifDir(), { recursive: true, force: true });
    try {
      fs.renameSync(staging, ohifDir());
    } catch (err) {
      // Another setup finished first: keep its copy.
      if (!findOhif()) throw err;
    }
    log(`OHIF viewer ready in ${Math.round((Date.now() - started) / 1000)} s: ${path.join(ohifDir(), 'dist')}`);
    return path.join(ohifDir(), 'dist');
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}
