/**
 * The ground truth of a planned dataset: walks the entries in source order (nested zip entries right
 * after their zip, as '<zip path>/<inner path>') and applies the rule ingest must apply: the first
 * copy of a SOP instance is valid, a later identical copy a duplicate, a later different one a conflict.
 */
import type { PlannedEntry } from './plan';
import type { ExpectedEntry, ExpectedInstance, ExpectedSeries, SynthManifest } from './types';

export function manifestOf(entries: PlannedEntry[]): SynthManifest {
  const out: ExpectedEntry[] = [];
  const instances: ExpectedInstance[] = [];
  const firstCopy = new Map<string, string>(); // SOP Instance UID -> content key of the first copy
  const seriesIssues: SynthManifest['seriesIssues'] = [];
  const walk = (list: PlannedEntry[], prefix: string) => {
    for (const e of list) {
      const path = prefix + e.path;
      if (e.instance) {
        const { facts, contentKey } = e.instance;
        const first = firstCopy.get(facts.sopInstanceUid);
        if (first === undefined) {
          firstCopy.set(facts.sopInstanceUid, contentKey);
          instances.push({ ...facts, sourcePath: path });
          out.push({ path, status: 'valid', code: 'OK' });
        } else if (first === contentKey) {
          out.push({ path, status: 'duplicate', code: 'DUPLICATE_INSTANCE' });
        } else {
          out.push({ path, status: 'conflict', code: 'CONFLICTING_INSTANCE' });
        }
      } else if (e.outcome) {
        out.push({ path, status: e.outcome.status, code: e.outcome.code });
      } else {
        throw new Error(`planned entry ${path} has no outcome`);
      }
      if (e.seriesIssues) seriesIssues.push(...e.seriesIssues);
      if (e.inner) walk(e.inner, `${path}/`);
    }
  };
  walk(entries, '');
  return { entries: out, instances, series: seriesOf(instances), seriesIssues };
}

function seriesOf(instances: ExpectedInstance[]): ExpectedSeries[] {
  const bySeries = new Map<string, ExpectedSeries>();
  for (const i of instances) {
    let s = bySeries.get(i.seriesInstanceUid);
    if (!s) {
      s = { seriesInstanceUid: i.seriesInstanceUid, sliceCount: 0, minSliceThickness: null, maxSliceThickness: null };
      bySeries.set(i.seriesInstanceUid, s);
    }
    s.sliceCount++;
    if (i.sliceThickness !== null) {
      s.minSliceThickness = s.minSliceThickness === null ? i.sliceThickness : Math.min(s.minSliceThickness, i.sliceThickness);
      s.maxSliceThickness = s.maxSliceThickness === null ? i.sliceThickness : Math.max(s.maxSliceThickness, i.sliceThickness);
    }
  }
  return [...bySeries.values()];
}
