/** The live progress line and the final summary that `dicomflow ingest` prints. */
import type { IngestSummary, Progress } from '../workflows/types';
import type { LiveActivity } from './live';
import { plural } from '../text';
import { changesText } from '../report/html';

/** How far the current stage is: done of total, in a unit, from the query and the live heartbeats. */
export interface Amount {
  done: number;
  total?: number;
  unit: 'files' | 'entries' | 'bytes' | 'rows' | 'instances';
}

type Details = Record<string, unknown> | undefined;
const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
const sumOf = (live: LiveActivity[], type: string, key: string) =>
  live.filter((a) => a.type === type).reduce((sum, a) => sum + num((a.details as Details)?.[key]), 0);

function amountOf(p: Progress, live: LiveActivity[]): Amount | undefined {
  const valid = p.candidates - p.invalid;
  const details = (type: string) => live.find((a) => a.type === type)?.details as Details;
  switch (p.stage) {
    case 'download': {
      const d = details('download');
      return d ? { done: num(d.bytes), total: num(d.total) || undefined, unit: 'bytes' } : undefined;
    }
    case 'extract': {
      const d = details('extract');
      if (!d) return undefined;
      return num(d.totalBytes) ? { done: num(d.bytes), total: num(d.totalBytes), unit: 'bytes' } : { done: num(d.entryIndex), unit: 'entries' };
    }
    case 'validate':
      return { done: p.validated + sumOf(live, 'validateBatch', 'done'), total: p.candidates, unit: 'files' };
    case 'metadata':
      return { done: p.metadataRead, total: valid, unit: 'files' };
    case 'organize': {
      const d = details('organize');
      return d ? { done: num(d.done), total: valid, unit: 'files' } : undefined;
    }
    case 'load': {
      const d = details('loadDatabase');
      return d ? { done: num(d.instances) + num(d.outcomes), total: valid + p.found, unit: 'rows' } : undefined;
    }
    default:
      return undefined;
  }
}

const MiB = 1024 * 1024;
function quantity(n: number, unit: Amount['unit']): string {
  return unit === 'bytes' ? `${(n / MiB).toFixed(n < 10 * MiB ? 1 : 0)} MiB` : String(Math.round(n));
}

export function seconds(s: number): string {
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m} min ${Math.round(s % 60)} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
}

/** The retry under way, if any: "attempt 3, database unreachable: ECONNREFUSED, next try in 40 s". */
function retryText(live: LiveActivity[], now: number): string | undefined {
  const retrying = live.find((a) => a.attempt > 1);
  if (!retrying) return undefined;
  const wait = retrying.nextAttemptAt && retrying.nextAttemptAt > now ? `, next try in ${seconds((retrying.nextAttemptAt - now) / 1000)}` : '';
  return `attempt ${retrying.attempt}${retrying.lastFailure ? `, ${retrying.lastFailure}` : ''}${wait}`;
}

/** What a running activity says it waits for (another run's lock), from its last heartbeat: "waiting for ...". */
function waitingText(live: LiveActivity[]): string | undefined {
  for (const a of live) {
    const waiting = (a.details as Details)?.waiting;
    if (typeof waiting === 'string' && waiting !== '') return waiting;
  }
  return undefined;
}

const RATE_WINDOW_MS = 5000;

/**
 * Renders the progress line, remembering what it saw so it can tell the rate of the current stage (over the last
 * few seconds), the time left at that rate, and how long the stage has run.
 */
export class ProgressMeter {
  private samples: { at: number; done: number }[] = [];
  private stage?: string;
  private stageStarted = 0;

  line(p: Progress, live: LiveActivity[] = [], now = Date.now()): string {
    // An incremental run also says what it works on: N new, M changed, ...
    const detail = (amount: Amount | undefined) =>
      p.changes && p.stage !== 'done' ? `${detailOf(p, amount)} · ${changesText(p.changes)}` : detailOf(p, amount);
    return this.render(p, amountOf(p, live), detail, live, now);
  }

  /**
   * The line of any run with stages (ingest's Progress, an export's): `amount` gives the rate and the time left,
   * `detail` the words after the stage's name.
   */
  render(
    p: { stage: string; stages: { stage: string; state: string; seconds?: number }[] },
    amount: Amount | undefined,
    detail: (amount: Amount | undefined) => string,
    live: LiveActivity[] = [],
    now = Date.now(),
  ): string {
    if (p.stage !== this.stage) {
      this.stage = p.stage;
      this.stageStarted = now;
      this.samples = [];
    }
    const parts = [detail(amount)];
    if (amount) {
      this.samples.push({ at: now, done: amount.done });
      while (this.samples.length > 2 && now - this.samples[1].at >= RATE_WINDOW_MS) this.samples.shift();
      const first = this.samples[0];
      const rate = now > first.at ? ((amount.done - first.done) * 1000) / (now - first.at) : 0;
      if (rate > 0) {
        parts.push(`${quantity(rate, amount.unit)}${amount.unit === 'bytes' ? '' : ` ${amount.unit}`}/s`);
        if (amount.total !== undefined && amount.total > amount.done) parts.push(`ETA ${seconds((amount.total - amount.done) / rate)}`);
      }
    }
    const retry = retryText(live, now);
    if (retry) parts.push(retry);
    const waiting = waitingText(live);
    if (waiting) parts.push(waiting);
    if (now - this.stageStarted >= 1000 && p.stage !== 'done') parts.push(`${seconds((now - this.stageStarted) / 1000)} in stage`);
    const current = p.stages.find((s) => s.stage === p.stage);
    const state = !current || current.state === 'running' ? '' : ` (${current.state})`;
    const elapsed = p.stages.filter((s) => s.state === 'done').map((s) => `${s.stage} ${s.seconds?.toFixed(1)}s`);
    return `[${p.stage}${state}] ${parts.join(' · ')}${elapsed.length ? `   done: ${elapsed.join(', ')}` : ''}`;
  }
}

function detailOf(p: Progress, amount: Amount | undefined): string {
  const of = (a: Amount) =>
    a.unit === 'bytes'
      ? `${a.total !== undefined ? `${(a.done / MiB).toFixed(0)}/` : ''}${quantity(a.total ?? a.done, a.unit)}`
      : `${quantity(a.done, a.unit)}${a.total !== undefined ? `/${quantity(a.total, a.unit)}` : ''} ${a.unit}`;
  switch (p.stage) {
    case 'download':
      return amount ? `downloading the zip: ${of(amount)}` : 'downloading the zip';
    case 'extract':
      return amount ? `unpacking: ${of(amount)}` : 'unpacking and listing the entries';
    case 'validate':
      return `${of(amount!)}, ${p.invalid} invalid`;
    case 'metadata':
      return of(amount!);
    case 'organize':
      return amount ? `placing files in the tree: ${of(amount)}` : `placing ${plural(p.candidates - p.invalid, 'valid file')} in the tree`;
    case 'load':
      return amount ? `loading the catalog: ${of(amount)}` : 'loading the catalog';
    case 'report':
      return 'writing reports and charts';
    case 'done':
      return `${plural(p.found, 'entry', 'entries')}, ${p.invalid} invalid${p.changes ? ` (${changesText(p.changes)})` : ''}`;
  }
}

/** One progress line without history (no rate): the query alone. */
export function progressLine(p: Progress, live: LiveActivity[] = []): string {
  return new ProgressMeter().line(p, live);
}

export function summaryText(s: IngestSummary, extra: { workflowId: string; uiUrl?: string; namespace: string }): string {
  const c = s.counts;
  const stageTimes = Object.entries(s.stageSeconds)
    .map(([stage, sec]) => `${stage} ${sec.toFixed(1)} s`)
    .join(', ');
  const lines = [
    `dicomflow run ${s.runId} completed`,
    `  files found ${c.entries}: valid ${c.valid}, invalid ${c.invalid}, duplicates ${c.duplicate}, conflicts ${c.conflict}, skipped ${c.skipped}, refused ${c.refused}`,
    `  catalog: ${plural(c.patients, 'patient')}, ${plural(c.studies, 'study', 'studies')}, ${plural(c.series, 'series', 'series')}, ${plural(c.instances, 'instance')}` +
      (c.seriesIssues ? ` (${plural(c.seriesIssues, 'series issue')}, see the report)` : ''),
    ...(s.changes ? [`  since the last run: ${changesText(s.changes)}${s.changes.pruned !== undefined ? `, ${plural(s.changes.pruned, 'instance')} pruned` : ''}`] : []),
    `  time per stage: ${stageTimes}`,
    `  outputs:`,
    `    organized tree   ${s.outputs.organized}`,
    `    database         ${s.outputs.database.replace(/(\/\/[^:/@]+):[^@/]*@/, '$1:***@')}`, // never print a password
    ...s.outputs.reports.map((r, k) => `    ${k === 0 ? 'reports          ' : '                 '}${r}`),
    `    log              ${s.outputs.log}`,
    `  workflow ${extra.workflowId}` +
      (extra.uiUrl ? `   Temporal UI ${extra.uiUrl}/namespaces/${extra.namespace}/workflows/${encodeURIComponent(extra.workflowId)}` : ''),
  ];
  return lines.join('\n');
}
