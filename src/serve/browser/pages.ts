/** The study browser's pages, each a function of the catalog (and DIR's log and reports): HTML text, or null for 404. */
import { escapeHtml as e, type ServeContext } from '../http';
import { keywordOf } from '../../dicom/dictionary';
import { valueText } from '../../dicom/show';
import type { DicomJson } from '../../dicom/types';
import { facts, href, layout, link, num, pager, range, seconds, table, thumbnail, viewerLink } from './html';
import * as q from './queries';
import { reportsDir, runActivity, runStatus, type RunActivity } from './runs';

const code = (c: string) => `<code class="code">${e(c)}</code>`;
const uid = (u: string) => `<span class="uid">${e(u)}</span>`;
const patientText = (id: string | null) => (id === null ? '(no PatientID)' : id);

function temporalLink(ctx: ServeContext, runId: string): string {
  if (!ctx.temporalUiUrl) return '';
  const ns = process.env.TEMPORAL_NAMESPACE || 'default';
  return `<a class="temporal" href="${e(`${ctx.temporalUiUrl.replace(/\/+$/, '')}/namespaces/${encodeURIComponent(ns)}/workflows/${encodeURIComponent(runId)}`)}">Temporal UI</a>`;
}

function statusCell(a: RunActivity | undefined): string {
  const s = runStatus(a, true);
  return `<span class="status status-${e(s.status)}"${s.detail ? ` title="${e(s.detail)}"` : ''}>${e(s.status)}</span>`;
}

function runsTable(ctx: ServeContext, runs: q.RunRow[]): string {
  const activity = ctx.outDir ? runActivity(ctx.outDir) : new Map<string, RunActivity>();
  return table(
    ['Run', 'Status', 'Loaded', 'Duration', 'Source', 'Entries', 'Valid', 'Problems', 'Instances', 'Series issues', 'Links'],
    runs.map((r) => {
      const problems = Object.entries(r.statuses).reduce((sum, [s, k]) => sum + (s === 'valid' ? 0 : k), 0);
      const report = reportsDir(ctx.outDir, r.runId) ? link(href.report(r.runId), 'report') : '';
      return [
        link(href.run(r.runId), r.runId),
        statusCell(activity.get(r.runId)),
        e(r.loadedAt.replace('T', ' ').replace(/\.\d+Z$/, 'Z')),
        e(seconds(runStatus(activity.get(r.runId), true).seconds)),
        `<span class="path">${e(r.source ?? '')}</span>`,
        num(r.validationRows),
        num(r.statuses.valid ?? 0),
        problems ? link(href.problems({ run: r.runId }), num(problems)) : '0',
        num(r.instances),
        num(r.seriesIssues),
        [report, temporalLink(ctx, r.runId)].filter(Boolean).join(' · '),
      ];
    }),
    'class="runs"',
  );
}

export async function homePage(ctx: ServeContext): Promise<string> {
  const t = await q.totals(ctx);
  const runs = await q.runsPage(ctx, 1, 10);
  const body = `<section class="totals">
<a href="/patients"><b id="total-patients">${num(t.patients)}</b> patients</a>
<span><b id="total-studies">${num(t.studies)}</b> studies</span>
<span><b id="total-series">${num(t.series)}</b> series</span>
<span><b id="total-instances">${num(t.instances)}</b> instances</span>
</section>
<h2>Latest runs</h2>
${runsTable(ctx, runs.items)}
${runs.hasNext ? '<p><a href="/runs">All runs →</a></p>' : ''}`;
  return layout('Catalog', body);
}

export async function runsListPage(ctx: ServeContext, url: URL, page: number): Promise<string> {
  const runs = await q.runsPage(ctx, page);
  return layout('Runs', runsTable(ctx, runs.items) + pager(url, page, runs.hasNext), [['Catalog', '/'], ['Runs']]);
}

export async function runPage(ctx: ServeContext, url: URL, runId: string, page: number): Promise<string | null> {
  const r = await q.run(ctx, runId);
  if (!r) return null;
  const a = ctx.outDir ? runActivity(ctx.outDir).get(runId) : undefined;
  const s = runStatus(a, true);
  const reports = reportsDir(ctx.outDir, runId);
  const codes = await q.problemCodes(ctx, runId);
  const issues = await q.seriesIssuesOfRun(ctx, runId, page);
  const body = `${facts([
    ['Status', `${statusCell(a)}${s.detail ? ` <span class="detail">${e(s.detail)}</span>` : ''}`],
    ['Source', `<span class="path">${e(r.source ?? '')}</span>`],
    ['Loaded', e(r.loadedAt)],
    ['Duration', e(seconds(s.seconds))],
    ['Entries', num(r.validationRows)],
    ['By status', Object.entries(r.statuses).sort().map(([k, v]) => `${e(k)} ${num(v)}`).join(', ')],
    ['Instances', num(r.instances)],
    ['Series issues', num(r.seriesIssues)],
    ['Report', reports ? `${link(href.report(runId), 'report.html')} · ${link(href.report(runId, 'validation.csv'), 'validation.csv')} · ${link(href.report(runId, 'metadata.csv'), 'metadata.csv')}` : ''],
    ['Temporal', temporalLink(ctx, runId)],
  ])}
<h2>Validation problems by code</h2>
${table(
  ['Status', 'Code', 'Files'],
  codes.map((c) => [e(c.status), code(c.code), link(href.problems({ run: runId, code: c.code }), num(c.count))]),
  'class="codes"',
)}
<h2>Series issues</h2>
${table(
  ['Series', 'Code', 'Message'],
  issues.items.map((i) => [link(href.series(i.seriesInstanceUid), i.seriesInstanceUid), code(i.code), e(i.message)]),
)}
${pager(url, page, issues.hasNext)}`;
  return layout(`Run ${runId}`, body, [['Catalog', '/'], ['Runs', '/runs'], [runId]]);
}

export async function problemsPage(ctx: ServeContext, url: URL, page: number): Promise<string> {
  const runId = url.searchParams.get('run') || undefined;
  const c = url.searchParams.get('code') || undefined;
  const codes = await q.problemCodes(ctx, runId);
  const list = await q.problems(ctx, { runId, code: c }, page);
  const body = `<h2>By run and code</h2>
${table(
  ['Run', 'Status', 'Code', 'Files'],
  codes.map((x) => [link(href.run(x.runId), x.runId), e(x.status), code(x.code), link(href.problems({ run: x.runId, code: x.code }), num(x.count))]),
  'class="codes"',
)}
<h2>Files${c ? ` with ${code(c)}` : ''}${runId ? ` in run ${e(runId)}` : ''}</h2>
${runId || c ? `<p>${link('/problems', 'all problems')}</p>` : ''}
${table(
  ['Run', 'Path in the source', 'Status', 'Code', 'Message'],
  list.items.map((p) => [link(href.run(p.runId), p.runId), `<span class="path">${e(p.path)}</span>`, e(p.status), code(p.code), e(p.message)]),
  'class="problems"',
)}
${pager(url, page, list.hasNext)}`;
  return layout('Validation problems', body, [['Catalog', '/'], ['Problems']]);
}

function studiesTable(items: q.StudyRow[], withPatient: boolean): string {
  return table(
    [...(withPatient ? ['Patient'] : []), 'Date', 'Description', 'Modalities', 'Series', 'Instances', 'Study Instance UID', ''],
    items.map((s) => [
      ...(withPatient ? [link(href.patient(s.patientId), patientText(s.patientId))] : []),
      e(s.date ?? ''),
      e(s.description ?? ''),
      e(s.modalities.join(', ')),
      `<span class="n-series">${num(s.series)}</span>`,
      `<span class="n-instances">${num(s.instances)}</span>`,
      link(href.study(s.studyInstanceUid), s.studyInstanceUid, 'uid study-link'),
      viewerLink(s.studyInstanceUid),
    ]),
    'class="studies"',
  );
}

export async function patientsPage(ctx: ServeContext, url: URL, page: number): Promise<string> {
  const p = await q.patientsPage(ctx, page);
  const body =
    table(
      ['PatientID', 'Name', 'Studies', 'Series', 'Instances'],
      p.items.map((x) => [
        link(href.patient(x.patientId), patientText(x.patientId), 'patient-link'),
        e(x.name ?? ''),
        `<span class="n-studies">${num(x.studies)}</span>`,
        `<span class="n-series">${num(x.series)}</span>`,
        `<span class="n-instances">${num(x.instances)}</span>`,
      ]),
      'class="patients"',
    ) + pager(url, page, p.hasNext);
  return layout('Patients', body, [['Catalog', '/'], ['Patients']]);
}

export async function patientPage(ctx: ServeContext, url: URL, id: string | null, page: number): Promise<string | null> {
  if (!(await q.patientExists(ctx, id))) return null;
  const summary = await q.patientSummary(ctx, id);
  const studies = await q.studiesOfPatient(ctx, id, page);
  const body = `${facts([
    ['PatientID', e(patientText(id))],
    ['Name', e(summary.name ?? '')],
    ['Studies', num(summary.studies)],
    ['Series', num(summary.series)],
    ['Instances', num(summary.instances)],
  ])}
<h2>Studies</h2>
${studiesTable(studies.items, false)}
${pager(url, page, studies.hasNext)}`;
  return layout(`Patient ${patientText(id)}`, body, [['Catalog', '/'], ['Patients', '/patients'], [patientText(id)]]);
}

function seriesTable(items: q.SeriesRow[]): string {
  return table(
    ['', 'Modality', 'No.', 'Date', 'Description', 'Slices', 'Thickness (mm)', 'Issues', 'Series Instance UID'],
    items.map((s) => [
      `<a href="${e(href.series(s.seriesInstanceUid))}">${thumbnail(href.seriesThumbnail(s.seriesInstanceUid), `middle slice of ${s.seriesInstanceUid}`)}</a>`,
      e(s.modality ?? ''),
      e(s.number ?? ''),
      e(s.date ?? ''),
      e(s.description ?? ''),
      `<span class="n-slices">${num(s.slices)}</span>`,
      e(range(s.minThickness, s.maxThickness)),
      s.issues.map((i) => `<span title="${e(i.message)}">${code(i.code)}</span>`).join(' '),
      link(href.series(s.seriesInstanceUid), s.seriesInstanceUid, 'uid series-link'),
    ]),
    'class="series"',
  );
}

export async function studyPage(ctx: ServeContext, url: URL, uidText: string, page: number): Promise<string | null> {
  const s = await q.study(ctx, uidText);
  if (!s) return null;
  const series = await q.seriesOfStudy(ctx, uidText, page);
  const body = `${facts([
    ['Patient', link(href.patient(s.patientId), patientText(s.patientId))],
    ['Date', e(s.date ?? '')],
    ['Description', e(s.description ?? '')],
    ['Modalities', e(s.modalities.join(', '))],
    ['Series', num(s.series)],
    ['Instances', num(s.instances)],
    ['Study Instance UID', uid(s.studyInstanceUid)],
  ])}
<p>${viewerLink(s.studyInstanceUid)}</p>
<h2>Series</h2>
${seriesTable(series.items)}
${pager(url, page, series.hasNext)}`;
  return layout(`Study ${s.description || s.date || s.studyInstanceUid}`, body, [
    ['Catalog', '/'],
    ['Patients', '/patients'],
    [patientText(s.patientId), href.patient(s.patientId)],
    [s.description || s.studyInstanceUid],
  ]);
}

/** Slice positions along the normal of the series' orientation: first, last, and the spacing between neighbours. */
function geometry(slices: Awaited<ReturnType<typeof q.geometryOfSeries>>): [string, string][] {
  const first = slices.find((s) => s.orientation && s.orientation.length === 6);
  if (!first?.orientation) return [];
  const [a, b, c, d, f, g] = first.orientation;
  const normal = [b * g - c * f, c * d - a * g, a * f - b * d];
  const along = slices.filter((s) => s.position && s.position.length === 3).map((s) => s.position!.reduce((sum, v, k) => sum + v * normal[k], 0));
  along.sort((x, y) => x - y);
  const gaps = along.slice(1).map((v, k) => v - along[k]);
  const spacing = gaps.length ? range(Math.min(...gaps), Math.max(...gaps), ' mm') : '';
  const px = first.spacing;
  return [
    ['Orientation', e(first.orientation.map((v) => +v.toFixed(4)).join(', '))],
    ['Pixel spacing', px ? e(`${px.map((v) => +v.toFixed(4)).join(' × ')} mm`) : ''],
    ['Positions along the normal', along.length ? e(`${+along[0].toFixed(2)} to ${+along[along.length - 1].toFixed(2)} mm (${along.length} slices)`) : ''],
    ['Slice spacing', e(spacing)],
  ];
}

/** Slices read for the geometry at most (a bigger series shows the geometry of its first ones). */
const GEOMETRY_LIMIT = 5000;
const STRIP = 12;

export async function seriesPage(ctx: ServeContext, url: URL, uidText: string, page: number): Promise<string | null> {
  const s = await q.series(ctx, uidText);
  if (!s) return null;
  const study = await q.study(ctx, s.studyInstanceUid);
  const strip = await q.spreadOfSeries(ctx, uidText, s.slices, STRIP);
  const geo = geometry(await q.geometryOfSeries(ctx, uidText, GEOMETRY_LIMIT));
  const files = await q.instancesOfSeries(ctx, uidText, page);
  const first = files.items[0];
  const body = `<div class="strip">${strip
    .map((sop) => `<a href="${e(href.instance(sop))}">${thumbnail(href.instanceImage(sop), `slice ${sop}`, 'thumb strip-thumb')}</a>`)
    .join('')}</div>
${facts([
  ['Patient', link(href.patient(s.patientId), patientText(s.patientId))],
  ['Study', link(href.study(s.studyInstanceUid), study?.description || s.studyInstanceUid)],
  ['Modality', e(s.modality ?? '')],
  ['Series number', e(s.number ?? '')],
  ['Date', e(s.date ?? '')],
  ['Description', e(s.description ?? '')],
  ['Slices', `<span id="slice-count">${num(s.slices)}</span>`],
  ['Slice thickness', e(range(s.minThickness, s.maxThickness, ' mm'))],
  ['Rows × columns', first?.rows ? e(`${first.rows} × ${first.columns}`) : ''],
  ...geo,
  ['Series Instance UID', uid(s.seriesInstanceUid)],
])}
<p>${viewerLink(s.studyInstanceUid)}</p>
<h2>Issues</h2>
${table(['Code', 'Message'], s.issues.map((i) => [code(i.code), e(i.message)]), 'class="issues"')}
<h2>Files</h2>
${table(
  ['No.', 'SOP Instance UID', 'Rows × cols', 'Thickness', 'Size', 'Organized file', 'In the source'],
  files.items.map((i) => [
    e(i.instanceNumber ?? ''),
    link(href.instance(i.sopInstanceUid), i.sopInstanceUid, 'uid instance-link'),
    i.rows ? e(`${i.rows} × ${i.columns}`) : '',
    e(i.sliceThickness ?? ''),
    num(i.fileSize),
    `<span class="path">${e(i.filePath)}</span>`,
    `<span class="path">${e(i.sourcePath)}</span>`,
  ]),
  'class="files"',
)}
${pager(url, page, files.hasNext)}`;
  return layout(`Series ${[s.modality, s.description].filter(Boolean).join(' ') || s.seriesInstanceUid}`, body, [
    ['Catalog', '/'],
    ['Patients', '/patients'],
    [patientText(s.patientId), href.patient(s.patientId)],
    [study?.description || s.studyInstanceUid, href.study(s.studyInstanceUid)],
    [s.description || s.seriesInstanceUid],
  ]);
}

/** The header as nested table rows: keyword, tag, VR, value (as `dicomflow show` prints it); sequences indented. */
function headerRows(meta: DicomJson, depth = 0, out: string[] = []): string[] {
  for (const tag of Object.keys(meta).sort()) {
    const el = meta[tag];
    const name = keywordOf(tag) ?? 'Unknown';
    const pad = `style="padding-left:${0.4 + depth * 1.5}em"`;
    const head = `<td ${pad}>${e(name)}</td><td class="tag">(${e(tag.slice(0, 4))},${e(tag.slice(4))})</td><td>${e(el.vr)}</td>`;
    if (el.vr === 'SQ') {
      const items = (el.Value ?? []) as DicomJson[];
      out.push(`<tr class="sq">${head}<td>${items.length} item${items.length === 1 ? '' : 's'}</td></tr>`);
      items.forEach((item, k) => {
        out.push(`<tr class="item"><td colspan="4" style="padding-left:${1.2 + depth * 1.5}em">Item ${k + 1}</td></tr>`);
        headerRows(item ?? {}, depth + 1, out);
      });
    } else out.push(`<tr>${head}<td class="value">${e(valueText(el))}</td></tr>`);
  }
  return out;
}

export async function instancePage(ctx: ServeContext, sopUid: string): Promise<string | null> {
  const i = await q.instance(ctx, sopUid);
  if (!i) return null;
  const s = await q.series(ctx, i.seriesInstanceUid);
  const charset = i.meta['00080005']?.Value?.map(String).join('\\') ?? '';
  const body = `<div class="instance">
<a href="${e(href.instanceImage(sopUid, 512))}">${thumbnail(href.instanceImage(sopUid, 512), `slice ${sopUid}`, 'preview')}</a>
${facts([
  ['Patient', link(href.patient(i.patientId), patientText(i.patientId))],
  ['Study', link(href.study(i.studyInstanceUid), i.studyInstanceUid)],
  ['Series', link(href.series(i.seriesInstanceUid), s?.description || i.seriesInstanceUid)],
  ['Instance number', e(i.instanceNumber ?? '')],
  ['Modality', e(i.modality ?? '')],
  ['Rows × columns', i.rows ? e(`${i.rows} × ${i.columns}`) : ''],
  ['Transfer syntax', e(i.transferSyntaxUid ?? '')],
  ['Specific Character Set', charset ? `${e(charset)} <span class="detail">(text below decoded)</span>` : '<span class="detail">none (ASCII, or read as UTF-8 / Latin-1)</span>'],
  ['Organized file', `<span class="path">${e(i.filePath)}</span> (${num(i.fileSize)} bytes)`],
  ['In the source', `<span class="path">${e(i.sourcePath)}</span>`],
  ['Run', link(href.run(i.runId), i.runId)],
  ['SOP Instance UID', uid(i.sopInstanceUid)],
])}
</div>
<p>${viewerLink(i.studyInstanceUid)} · ${link(`${href.instance(sopUid)}/meta.json`, 'header as DICOM JSON')}</p>
<h2>Header</h2>
<table class="header" id="header"><thead><tr><th>Keyword</th><th>Tag</th><th>VR</th><th>Value</th></tr></thead><tbody>
${headerRows(i.meta).join('\n')}
</tbody></table>`;
  return layout(`Instance ${i.instanceNumber ?? ''}`.trim(), body, [
    ['Catalog', '/'],
    ['Patients', '/patients'],
    [patientText(i.patientId), href.patient(i.patientId)],
    ['Study', href.study(i.studyInstanceUid)],
    [s?.description || 'Series', href.series(i.seriesInstanceUid)],
    [String(i.instanceNumber ?? sopUid)],
  ]);
}

const DATE = /^\d{4}-\d{2}-\d{2}$/;
/** Suggestions for the modality field (any value can be typed). */
const MODALITIES = ['CT', 'MR', 'PT', 'NM', 'CR', 'DX', 'MG', 'US', 'XA', 'RF', 'OT', 'SEG', 'SR'];

export async function searchPage(ctx: ServeContext, url: URL, page: number): Promise<string> {
  const p = url.searchParams;
  const get = (k: string) => (p.get(k) ?? '').trim().slice(0, 200);
  const query: q.SearchQuery = { patientId: get('patient'), modality: get('modality'), from: get('from'), to: get('to'), q: get('q') };
  const errors: string[] = [];
  for (const k of ['from', 'to'] as const) {
    if (query[k] && !DATE.test(query[k]!)) {
      errors.push(`${k === 'from' ? 'From' : 'To'} date "${query[k]}" is not YYYY-MM-DD: ignored.`);
      query[k] = '';
    }
  }
  const any = Object.values(query).some(Boolean);
  const form = `<form class="search" action="/search" method="get">
<label>PatientID <input name="patient" value="${e(query.patientId)}" placeholder="LIDC-IDRI-0001 or LIDC*"></label>
<label>Modality <input name="modality" value="${e(query.modality)}" list="modalities" size="6" placeholder="CT"></label>
<datalist id="modalities">${MODALITIES.map((m) => `<option value="${m}">`).join('')}</datalist>
<label>Study date from <input type="date" name="from" value="${e(query.from)}"></label>
<label>to <input type="date" name="to" value="${e(query.to)}"></label>
<label>Text <input type="search" name="q" value="${e(query.q)}" placeholder="PatientID or UID"></label>
<button type="submit">Search</button>
</form>${errors.map((m) => `<p class="error">${e(m)}</p>`).join('')}`;
  if (!any) return layout('Search', `${form}<p class="detail">Studies matching every field given; PatientID takes * and ? wildcards.</p>`, [['Catalog', '/'], ['Search']]);
  const studies = await q.searchStudies(ctx, query, page);
  return layout('Search', `${form}<h2>Studies</h2>${studiesTable(studies.items, true)}${pager(url, page, studies.hasNext)}`, [['Catalog', '/'], ['Search']]);
}
