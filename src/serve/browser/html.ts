/**
 * The study browser's page shell and the small pieces every page uses: links to each level of the tree, a pager,
 * numbers and dates as text. Everything interpolated goes through escapeHtml (text) or an href helper (URLs).
 */
import { escapeHtml as e } from '../http';

/** Rows per page of every list. */
export const PAGE_SIZE = 50;

const enc = encodeURIComponent;

export const href = {
  run: (runId: string) => `/runs/${enc(runId)}`,
  report: (runId: string, file = 'report.html') => `/runs/${enc(runId)}/report/${file.split('/').map(enc).join('/')}`,
  /** A patient; one without a PatientID is /patients/?missing. */
  patient: (patientId: string | null) => (patientId === null ? '/patients/?missing' : `/patients/${enc(patientId)}`),
  study: (uid: string) => `/studies/${enc(uid)}`,
  series: (uid: string) => `/series/${enc(uid)}`,
  instance: (uid: string) => `/instances/${enc(uid)}`,
  seriesThumbnail: (uid: string) => `/series/${enc(uid)}/thumbnail.png`,
  instanceImage: (uid: string, size = 128) => `/instances/${enc(uid)}/thumbnail.png${size === 128 ? '' : `?size=${size}`}`,
  /** The study in the OHIF viewer served under /viewer. */
  viewer: (studyUid: string) => `/viewer/viewer?StudyInstanceUIDs=${enc(studyUid)}`,
  problems: (params: Record<string, string | undefined> = {}) => withQuery('/problems', params),
  search: (params: Record<string, string | undefined> = {}) => withQuery('/search', params),
};

function withQuery(path: string, params: Record<string, string | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') q.set(k, v);
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}

export const link = (url: string, text: unknown, cls?: string): string => `<a href="${e(url)}"${cls ? ` class="${cls}"` : ''}>${e(text)}</a>`;

export const viewerLink = (studyUid: string): string => `<a class="ohif" href="${e(href.viewer(studyUid))}" title="Open the study in the OHIF viewer">Open in OHIF</a>`;

/** A series' thumbnail; hidden when the series has no pixels we can draw. */
export const thumbnail = (url: string, alt: string, cls = 'thumb'): string =>
  `<img class="${cls}" src="${e(url)}" alt="${e(alt)}" loading="lazy" onerror="this.classList.add('missing')">`;

export function num(n: unknown): string {
  return typeof n === 'number' && Number.isFinite(n) ? n.toLocaleString('en-US') : n === null || n === undefined ? '' : String(n);
}

/** 0.625 → "0.625", 1.25–2.5 ranges as "1.25–2.5", equal ends once. */
export function range(lo: number | null | undefined, hi: number | null | undefined, unit = ''): string {
  if (lo === null || lo === undefined) return '';
  const a = `${+Number(lo).toFixed(3)}`;
  const b = hi === null || hi === undefined ? a : `${+Number(hi).toFixed(3)}`;
  return `${a === b ? a : `${a}–${b}`}${unit}`;
}

export function seconds(s: number | null | undefined): string {
  if (s === null || s === undefined || !Number.isFinite(s)) return '';
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m} min ${Math.round(s - m * 60)} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
}

/** The requested page (1-based) from ?page=. */
export function pageOf(url: URL): number {
  const p = Number(url.searchParams.get('page') ?? '1');
  return Number.isInteger(p) && p >= 1 && p <= 1_000_000 ? p : 1;
}

/** Previous / next links keeping the other query parameters; `hasNext` from fetching one row more than a page. */
export function pager(url: URL, page: number, hasNext: boolean): string {
  if (page === 1 && !hasNext) return '';
  const to = (p: number) => {
    const q = new URLSearchParams(url.searchParams);
    if (p === 1) q.delete('page');
    else q.set('page', String(p));
    const s = q.toString();
    return `${url.pathname}${s ? `?${s}` : ''}`;
  };
  const prev = page > 1 ? `<a rel="prev" href="${e(to(page - 1))}">← previous</a>` : '<span></span>';
  const next = hasNext ? `<a rel="next" href="${e(to(page + 1))}">next →</a>` : '<span></span>';
  return `<nav class="pager">${prev}<span>page ${page}</span>${next}</nav>`;
}

/** The page with the site's header (navigation and quick search) around `body`; `crumbs` are [text, url?] pairs. */
export function layout(title: string, body: string, crumbs: [string, string?][] = []): string {
  const trail = crumbs.length
    ? `<nav class="crumbs">${crumbs.map(([text, url]) => (url ? link(url, text) : `<span>${e(text)}</span>`)).join(' › ')}</nav>`
    : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${e(title)} · dicomflow</title><link rel="icon" href="data:,"><link rel="stylesheet" href="/static/browser.css"></head>
<body><header><a class="brand" href="/">dicomflow</a>
<nav class="main"><a href="/runs">Runs</a><a href="/patients">Patients</a><a href="/search">Search</a><a href="/problems">Problems</a><a href="/viewer/">Viewer</a></nav>
<form class="quick" action="/search" method="get"><input type="search" name="q" placeholder="PatientID or UID…" aria-label="Search"></form>
</header>
<main>${trail}<h1>${e(title)}</h1>
${body}
</main></body></html>`;
}

/** A table from a header row and rows of ready HTML cells. */
export function table(head: string[], rows: string[][], attrs = ''): string {
  if (rows.length === 0) return '<p class="empty">None.</p>';
  return `<table${attrs ? ` ${attrs}` : ''}><thead><tr>${head.map((h) => `<th>${e(h)}</th>`).join('')}</tr></thead><tbody>
${rows.map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join('')}</tr>`).join('\n')}
</tbody></table>`;
}

/** A definition list of label → ready HTML value, empty values left out. */
export function facts(items: [string, string][]): string {
  return `<dl class="facts">${items
    .filter(([, v]) => v !== '')
    .map(([k, v]) => `<dt>${e(k)}</dt><dd>${v}</dd>`)
    .join('')}</dl>`;
}
