/** The live progress line and the final summary that `dicomflow ingest` prints. */
import type { IngestSummary, Progress } from '../workflows/types';

export function progressLine(p: Progress): string {
  const current = p.stages.find((s) => s.stage === p.stage);
  const elapsed = p.stages.filter((s) => s.state === 'done').map((s) => `${s.stage} ${s.seconds?.toFixed(1)}s`);
  const details: Record<Progress['stage'], () => string> = {
    download: () => 'downloading the zip',
    extract: () => 'unpacking and listing the entries',
    validate: () => `${p.validated}/${p.candidates} files, ${p.invalid} invalid`,
    metadata: () => `${p.metadataRead}/${p.candidates - p.invalid} files`,
    organize: () => `placing ${p.candidates - p.invalid} valid files in the tree`,
    load: () => 'loading the catalog',
    report: () => 'writing reports and charts',
    done: () => `${p.found} entries, ${p.invalid} invalid`,
  };
  const detail = details[p.stage]();
  const state = !current || current.state === 'running' ? '' : ` (${current.state})`;
  return `[${p.stage}${state}] ${detail}${elapsed.length ? `   done: ${elapsed.join(', ')}` : ''}`;
}

export function summaryText(s: IngestSummary, extra: { workflowId: string; uiUrl?: string; namespace: string }): string {
  const c = s.counts;
  const stageTimes = Object.entries(s.stageSeconds)
    .map(([stage, sec]) => `${stage} ${sec.toFixed(1)} s`)
    .join(', ');
  const lines = [
    `dicomflow run ${s.runId} completed`,
    `  files found ${c.entries}: valid ${c.valid}, invalid ${c.invalid}, duplicates ${c.duplicate}, conflicts ${c.conflict}, skipped ${c.skipped}, refused ${c.refused}`,
    `  catalog: ${c.patients} patients, ${c.studies} studies, ${c.series} series, ${c.instances} instances` +
      (c.seriesIssues ? ` (${c.seriesIssues} series issues, see the report)` : ''),
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
