/**
 * report.html: one self-contained page (inline CSS, inline SVG, no scripts, no external assets).
 * Every piece of text from the run (paths, tag values, messages) goes through escapeHtml.
 */
import type { EntryStatus } from '../records';
import { CODES } from '../dicom/codes';
import { STATUSES, plural, shortSeriesLabel, type ReportStats } from './stats';
import type { Thumbnail } from './thumbnails';

export interface HtmlReportInput {
  source: string;
  runId: string;
  generatedAt: string;
  stats: ReportStats;
  /** The charts' SVG markup (trusted: made by charts.ts, which escapes its own labels). */
  thicknessSvg: string;
  seriesSvg: string;
  /** File names, relative to report.html, for links. */
  files: { validationCsv: string; metadataCsv: string; thicknessPng: string; seriesPng: string };
  /** How many series the bar chart shows. */
  seriesShown: number;
  stageSeconds?: Record<string, number>;
  /** One middle-slice PNG per series, of the first `thumbnailLimit` series; the Series grid is left out when absent. */
  thumbnails?: Thumbnail[];
  thumbnailLimit?: number;
  /** A folder source against the file catalog: what this run found new, changed, unchanged and gone. */
  changes?: { new: number; changed: number; unchanged: number; gone: number };
}

/** "3 new, 1 changed, 120 unchanged, 1 gone": an incremental run's counts, as the CLI and the report say them. */
export function changesText(c: { new: number; changed: number; unchanged: number; gone: number }): string {
  return `${c.new} new, ${c.changed} changed, ${c.unchanged} unchanged, ${c.gone} gone`;
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Averages with two decimals (the same rounding the tests and the CLI summary use). */
export function formatAverage(v: number): string {
  return v.toFixed(2);
}

export function renderReportHtml(r: HtmlReportInput): string {
  const s = r.stats;
  const e = escapeHtml;
  const out: string[] = [];
  out.push(
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>dicomflow report – ${e(r.source)}</title>`,
    `<style>${CSS}</style>`,
    '</head>',
    '<body>',
    '<h1>dicomflow ingestion report</h1>',
    '<dl class="meta">',
    `<dt>Source</dt><dd id="source">${e(r.source)}</dd>`,
    `<dt>Run id</dt><dd id="run-id">${e(r.runId)}</dd>`,
    `<dt>Generated</dt><dd id="generated-at">${e(r.generatedAt)}</dd>`,
    ...(r.changes ? [`<dt>Files since the last run</dt><dd id="changes">${e(changesText(r.changes))} (only new and changed files were processed)</dd>`] : []),
    '</dl>',
  );

  out.push('<h2>Summary</h2>', '<div class="cards">');
  out.push('<table class="summary" id="entries-by-status"><caption>Entries by status</caption>');
  out.push('<tr><th>Status</th><th>Entries</th></tr>');
  for (const status of STATUSES) out.push(countRow(`status-${status}`, statusLabel(status), s.statusCounts[status]));
  out.push(countRow('entries-total', 'Total entries', s.entries, true), '</table>');

  out.push('<table class="summary" id="catalogue"><caption>Catalogue</caption>');
  out.push('<tr><th>What</th><th>Count</th></tr>');
  out.push(countRow('patients', 'Patients', s.patients.size));
  out.push(countRow('studies', 'Studies', s.studies.size));
  out.push(countRow('series', 'Series', s.series.size));
  out.push(countRow('instances', 'Slices (instances)', s.instances));
  out.push(valueRow('avg-slices-per-study', 'Average slices per study', formatAverage(s.averageSlicesPerStudy)));
  out.push(valueRow('avg-slices-per-series', 'Average slices per series', formatAverage(s.averageSlicesPerSeries)));
  out.push(countRow('series-issues', 'Series issues', s.issueCount));
  out.push('</table>', '</div>');

  out.push('<h2>Slice thickness</h2>', '<figure>', r.thicknessSvg);
  out.push(
    `<figcaption>Instances per SliceThickness (mm)${
      s.instancesWithoutThickness > 0 ? `; ${plural(s.instancesWithoutThickness, 'instance')} without SliceThickness not shown` : ''
    }. <a href="${e(r.files.thicknessPng)}">PNG</a></figcaption>`,
    '</figure>',
  );

  out.push('<h2>Slices per series</h2>', '<figure>', r.seriesSvg);
  const more =
    s.series.size > r.seriesShown ? `The ${r.seriesShown} series with the most slices, of ${s.series.size}. ` : '';
  out.push(
    `<figcaption id="series-chart-caption">${more}Series are labelled by the end of their UID and their modality; ` +
      `every instance is in <a href="${e(r.files.metadataCsv)}">${e(r.files.metadataCsv)}</a>. ` +
      `<a href="${e(r.files.seriesPng)}">PNG</a></figcaption>`,
    '</figure>',
  );

  if (r.thumbnails) out.push(...seriesGrid(r.thumbnails, s.series.size, r.thumbnailLimit ?? Infinity));

  out.push('<h2>Series issues</h2>');
  if (s.issueCount === 0) out.push('<p id="no-series-issues">No series issues found.</p>');
  else {
    if (s.issueCount > s.issues.length) out.push(`<p>The first ${s.issues.length} of ${s.issueCount} issues; all are in the <code>series_issues</code> table.</p>`);
    out.push('<table class="list" id="series-issues-table"><tr><th>Code</th><th>Series</th><th>Message</th></tr>');
    for (const i of s.issues) out.push(`<tr>${codeCell(i.code)}<td class="uid">${e(i.seriesInstanceUid)}</td><td>${e(i.message)}</td></tr>`);
    out.push('</table>');
  }

  out.push('<h2>Files not placed: invalid, refused, conflicting</h2>');
  if (s.problemCount === 0) out.push('<p id="no-problem-files">None.</p>');
  else {
    const first = s.problemCount > s.problems.length ? `The first ${s.problems.length} of ${s.problemCount}. ` : '';
    out.push(`<p>${first}Every entry with its status is in <a href="${e(r.files.validationCsv)}">${e(r.files.validationCsv)}</a>.</p>`);
    out.push('<table class="list" id="problem-files-table"><tr><th>Path</th><th>Status</th><th>Code</th><th>Message</th></tr>');
    for (const p of s.problems) out.push(`<tr><td class="path">${e(p.path)}</td><td>${e(p.status)}</td>${codeCell(p.code)}<td>${e(p.message)}</td></tr>`);
    out.push('</table>');
  }

  const stages = Object.entries(r.stageSeconds ?? {});
  if (stages.length > 0) {
    out.push('<h2>Time per stage</h2>', '<table class="summary" id="stage-times"><tr><th>Stage</th><th>Seconds</th></tr>');
    for (const [stage, seconds] of stages) out.push(valueRow(`stage-${stage}`, stage, formatSeconds(seconds)));
    const total = stages.reduce((sum, [, seconds]) => sum + (Number.isFinite(seconds) ? seconds : 0), 0);
    out.push(valueRow('stage-total', 'Total', formatSeconds(total), true), '</table>');
  }

  out.push(`<footer>Downloads: <a href="${e(r.files.validationCsv)}">${e(r.files.validationCsv)}</a> · <a href="${e(r.files.metadataCsv)}">${e(r.files.metadataCsv)}</a></footer>`);
  out.push('</body>', '</html>', '');
  return out.join('\n');
}

/** The thumbnails as a grid of figures; says why some series have none (beyond the limit, or not drawable). */
function seriesGrid(thumbnails: Thumbnail[], seriesTotal: number, limit: number): string[] {
  const e = escapeHtml;
  const out = ['<h2>Series</h2>'];
  if (seriesTotal > thumbnails.length) {
    const considered = Math.min(seriesTotal, limit);
    const notDrawn = considered - thumbnails.length;
    const why = [
      seriesTotal > limit ? `only the first ${limit} series are drawn` : '',
      notDrawn > 0 ? `no uncompressed grayscale slice to draw for ${notDrawn} (compressed, deflated, colour or unreadable)` : '',
    ].filter(Boolean);
    out.push(`<p id="series-thumbnails-note">Middle slice of ${thumbnails.length} of ${seriesTotal} series; ${why.join('; ')}.</p>`);
  }
  if (thumbnails.length === 0) return out;
  out.push('<div class="thumbs" id="series-thumbnails">');
  for (const t of thumbnails) {
    const label = shortSeriesLabel(t.seriesInstanceUid, null);
    out.push(
      `<figure class="thumb"><img src="${e(t.file)}" width="${t.width}" height="${t.height}" alt="${e(`Middle slice of series ${t.seriesInstanceUid}`)}">` +
        `<figcaption title="${e(t.seriesInstanceUid)}">${e(t.modality ?? '–')} · ${e(label)} · ${e(plural(t.slices, 'slice'))}</figcaption></figure>`,
    );
  }
  out.push('</div>');
  return out;
}

/** Two decimals for short stages (a report takes 0.04 s), one for long ones. */
export function formatSeconds(seconds: number): string {
  if (!Number.isFinite(seconds)) return '–';
  return seconds < 10 ? seconds.toFixed(2) : seconds.toFixed(1);
}

/** A validation code with its meaning from the taxonomy as hover text. */
function codeCell(code: string): string {
  // hasOwn: a code read from a file could be "constructor" or "__proto__".
  const info = Object.hasOwn(CODES, code) ? (CODES as Record<string, { meaning: string }>)[code] : undefined;
  const title = info ? ` title="${escapeHtml(info.meaning)}"` : '';
  return `<td><code${title}>${escapeHtml(code)}</code></td>`;
}

function statusLabel(status: EntryStatus): string {
  return status[0].toUpperCase() + status.slice(1);
}

function countRow(id: string, label: string, count: number, total = false): string {
  return valueRow(id, label, String(count), total);
}

function valueRow(id: string, label: string, value: string, total = false): string {
  const cls = total ? ' class="total"' : '';
  return `<tr${cls}><td>${escapeHtml(label)}</td><td class="num" id="${escapeHtml(id)}">${escapeHtml(value)}</td></tr>`;
}

const CSS = `
body{font-family:"DejaVu Sans",Arial,Helvetica,sans-serif;color:#222;margin:2em auto;max-width:1000px;padding:0 1em;line-height:1.4}
h1{font-size:1.6em;margin-bottom:.3em}h2{font-size:1.25em;margin-top:1.8em;border-bottom:1px solid #ddd;padding-bottom:.2em}
dl.meta{display:grid;grid-template-columns:max-content 1fr;gap:.2em 1em;margin:0}dl.meta dt{font-weight:bold}dl.meta dd{margin:0;word-break:break-all}
.cards{display:flex;flex-wrap:wrap;gap:2em;align-items:flex-start}
table{border-collapse:collapse;font-size:.92em}caption{font-weight:bold;text-align:left;padding-bottom:.3em}
th,td{border:1px solid #ddd;padding:.25em .6em;text-align:left;vertical-align:top}th{background:#f3f5f8}
td.num{text-align:right;font-variant-numeric:tabular-nums}tr.total td{font-weight:bold}
table.list{width:100%}td.uid,td.path{word-break:break-all;width:45%;font-family:"DejaVu Sans Mono",monospace;font-size:.9em}
figure{margin:1em 0}figure svg{max-width:100%;height:auto;border:1px solid #eee}figcaption{font-size:.9em;color:#555}
div.thumbs{display:flex;flex-wrap:wrap;gap:1em}figure.thumb{margin:0;width:140px;text-align:center}
figure.thumb img{display:block;margin:0 auto;background:#000;image-rendering:auto}figure.thumb figcaption{word-break:break-all}
footer{margin-top:2em;font-size:.9em;color:#555}
`.trim();
