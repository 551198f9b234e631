/**
 * The report's charts as standalone SVG strings (pure: data in, SVG out). The same string is inlined
 * in report.html and rendered to PNG, so both always show the same picture.
 */

export interface HistogramBin {
  label: string;
  count: number;
}

export interface Bar {
  label: string;
  value: number;
  /** Hover text (e.g. the full series UID). */
  tooltip?: string;
}

export interface ChartText {
  title: string;
  xLabel: string;
  yLabel: string;
  /** Shown under the title, e.g. "12 instances without SliceThickness". */
  note?: string;
}

const FONT = 'DejaVu Sans, Arial, Helvetica, sans-serif';
const BAR_COLOUR = '#4a7bb7';
const AXIS_COLOUR = '#444';
const GRID_COLOUR = '#e3e3e3';

/** At most this many distinct slice thickness values get a bar each; more are grouped into ranges. */
export const MAX_DISTINCT_THICKNESS_BARS = 20;
/** About this many equal-width ranges (at most one more) when the values are too many to show one by one. */
export const THICKNESS_RANGE_BINS = 20;

/**
 * Histogram bins of slice thickness from value → instance count. CT series use a handful of standard
 * thicknesses, so each distinct value gets its own bar; otherwise equal-width ranges from min to max.
 */
export function thicknessBins(counts: ReadonlyMap<number, number>): HistogramBin[] {
  const values = [...counts.keys()].sort((a, b) => a - b);
  if (values.length === 0) return [];
  if (values.length <= MAX_DISTINCT_THICKNESS_BARS) {
    return values.map((v) => ({ label: formatNumber(v), count: counts.get(v) ?? 0 }));
  }
  // Equal ranges of a round width (1, 2, 2.5 or 5 × 10^k) starting at a multiple of it: readable edges.
  const min = values[0];
  const max = values[values.length - 1];
  const width = roundStep((max - min) / THICKNESS_RANGE_BINS);
  const start = Math.floor(min / width) * width;
  const count = Math.floor((max - start) / width) + 1;
  const bins: HistogramBin[] = [];
  for (let b = 0; b < count; b++) {
    bins.push({ label: `${formatNumber(start + b * width)}–${formatNumber(start + (b + 1) * width)}`, count: 0 });
  }
  for (const v of values) {
    const b = Math.min(count - 1, Math.floor((v - start) / width + 1e-9));
    bins[b].count += counts.get(v) ?? 0;
  }
  return bins;
}

/** The smallest 1, 2, 2.5 or 5 × 10^k that is at least raw. */
function roundStep(raw: number): number {
  const magnitude = Math.pow(10, Math.floor(Math.log10(raw)));
  return [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= raw * (1 - 1e-9)) ?? 10 * magnitude;
}

/** A short stable number text: at most 4 decimals, no trailing zeros, never locale-dependent. */
export function formatNumber(v: number): string {
  return String(Number(v.toFixed(4)));
}

/** Vertical-bar histogram. */
export function histogramSvg(bins: readonly HistogramBin[], text: ChartText): string {
  const width = 720;
  const longest = Math.max(0, ...bins.map((b) => b.label.length));
  const plotLeft = 64;
  const plotRight = width - 20;
  const plotTop = text.note ? 58 : 44;
  const slot = bins.length > 0 ? (plotRight - plotLeft) / bins.length : 0;
  // Rotate the category labels when they would not fit side by side.
  const rotate = longest * 7 > slot - 4;
  const labelSpace = rotate ? Math.min(110, 14 + longest * 5.2) : 22;
  const plotBottom = plotTop + 240;
  const height = plotBottom + labelSpace + 28;
  const plotHeight = plotBottom - plotTop;

  const parts: string[] = [svgOpen(width, height, text.title), ...titleParts(width, text)];
  const maxCount = Math.max(0, ...bins.map((b) => b.count));
  const ticks = niceTicks(maxCount);
  const top = ticks[ticks.length - 1] || 1;
  const y = (count: number) => plotBottom - (count / top) * plotHeight;

  for (const t of ticks) {
    parts.push(line(plotLeft, y(t), plotRight, y(t), GRID_COLOUR));
    parts.push(label(plotLeft - 6, y(t) + 4, String(t), { anchor: 'end' }));
  }
  bins.forEach((bin, i) => {
    const barWidth = Math.max(1, slot * 0.8);
    const x = plotLeft + i * slot + (slot - barWidth) / 2;
    const h = plotBottom - y(bin.count);
    parts.push(
      `<rect x="${n(x)}" y="${n(plotBottom - h)}" width="${n(barWidth)}" height="${n(h)}" fill="${BAR_COLOUR}">` +
        `<title>${escapeXml(`${bin.label}: ${bin.count}`)}</title></rect>`,
    );
    const cx = plotLeft + i * slot + slot / 2;
    if (rotate) {
      parts.push(
        `<text x="${n(cx)}" y="${n(plotBottom + 12)}" font-size="11" text-anchor="end" ` +
          `transform="rotate(-40 ${n(cx)} ${n(plotBottom + 12)})">${escapeXml(bin.label)}</text>`,
      );
    } else {
      parts.push(label(cx, plotBottom + 16, bin.label, { anchor: 'middle' }));
    }
  });
  if (bins.length === 0) parts.push(label((plotLeft + plotRight) / 2, (plotTop + plotBottom) / 2, 'No data', { anchor: 'middle', size: 14 }));
  parts.push(line(plotLeft, plotBottom, plotRight, plotBottom, AXIS_COLOUR));
  parts.push(line(plotLeft, plotTop, plotLeft, plotBottom, AXIS_COLOUR));
  parts.push(label((plotLeft + plotRight) / 2, height - 8, text.xLabel, { anchor: 'middle', size: 12 }));
  parts.push(
    `<text x="16" y="${n((plotTop + plotBottom) / 2)}" font-size="12" text-anchor="middle" ` +
      `transform="rotate(-90 16 ${n((plotTop + plotBottom) / 2)})">${escapeXml(text.yLabel)}</text>`,
  );
  parts.push('</svg>');
  return parts.join('\n');
}

/** Horizontal bars, one row per item, in the order given, with the value at the end of each bar. */
export function horizontalBarSvg(bars: readonly Bar[], text: ChartText): string {
  const width = 760;
  const rowHeight = 18;
  const plotLeft = 230;
  const plotRight = width - 56;
  const plotTop = text.note ? 58 : 44;
  const plotBottom = plotTop + Math.max(1, bars.length) * rowHeight;
  const height = plotBottom + 48;

  const parts: string[] = [svgOpen(width, height, text.title), ...titleParts(width, text)];
  const ticks = niceTicks(Math.max(0, ...bars.map((b) => b.value)));
  const top = ticks[ticks.length - 1] || 1;
  const x = (v: number) => plotLeft + (v / top) * (plotRight - plotLeft);

  for (const t of ticks) {
    parts.push(line(x(t), plotTop, x(t), plotBottom, GRID_COLOUR));
    parts.push(label(x(t), plotBottom + 16, String(t), { anchor: 'middle' }));
  }
  bars.forEach((bar, i) => {
    const rowTop = plotTop + i * rowHeight;
    const barWidth = x(bar.value) - plotLeft;
    parts.push(
      `<rect x="${plotLeft}" y="${n(rowTop + 3)}" width="${n(barWidth)}" height="${rowHeight - 6}" fill="${BAR_COLOUR}">` +
        `<title>${escapeXml(bar.tooltip ?? bar.label)}: ${bar.value}</title></rect>`,
    );
    parts.push(label(plotLeft - 6, rowTop + rowHeight / 2 + 4, clip(bar.label, MAX_BAR_LABEL_CHARS), { anchor: 'end' }));
    parts.push(label(plotLeft + barWidth + 4, rowTop + rowHeight / 2 + 4, String(bar.value), { anchor: 'start' }));
  });
  if (bars.length === 0) parts.push(label((plotLeft + plotRight) / 2, plotTop + 13, 'No data', { anchor: 'middle', size: 14 }));
  parts.push(line(plotLeft, plotTop, plotLeft, plotBottom, AXIS_COLOUR));
  parts.push(line(plotLeft, plotBottom, plotRight, plotBottom, AXIS_COLOUR));
  parts.push(label((plotLeft + plotRight) / 2, height - 8, text.xLabel, { anchor: 'middle', size: 12 }));
  parts.push(label(plotLeft - 6, plotTop - 6, text.yLabel, { anchor: 'end', size: 12, bold: true }));
  parts.push('</svg>');
  return parts.join('\n');
}

/** About what fits left of the bars at font size 11. */
const MAX_BAR_LABEL_CHARS = 34;

/** Text cut to at most max characters, with an ellipsis when cut. */
export function clip(text: string, max: number): string {
  const chars = [...text];
  return chars.length <= max ? text : chars.slice(0, max - 1).join('') + '…';
}

/** Axis ticks 0..top with a 1/2/5×10^k integer step, about five of them, top ≥ max. */
export function niceTicks(max: number): number[] {
  if (!(max > 0)) return [0, 1];
  const rough = max / 5;
  const magnitude = Math.pow(10, Math.floor(Math.log10(rough)));
  const step = Math.max(1, [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= rough) ?? 10 * magnitude);
  const ticks: number[] = [];
  for (let t = 0; t < max + step; t += step) ticks.push(t);
  return ticks;
}

export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`).replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, '');
}

function svgOpen(width: number, height: number, title: string): string {
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ` +
    `font-family="${FONT}" font-size="11" fill="#222" role="img" aria-label="${escapeXml(title)}">\n` +
    `<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`
  );
}

function titleParts(width: number, text: ChartText): string[] {
  const parts = [label(width / 2, 24, text.title, { anchor: 'middle', size: 15, bold: true })];
  if (text.note) parts.push(label(width / 2, 42, text.note, { anchor: 'middle', size: 11 }));
  return parts;
}

function label(x: number, y: number, text: string, o: { anchor: 'start' | 'middle' | 'end'; size?: number; bold?: boolean }): string {
  const size = o.size ? ` font-size="${o.size}"` : '';
  const weight = o.bold ? ' font-weight="bold"' : '';
  return `<text x="${n(x)}" y="${n(y)}" text-anchor="${o.anchor}"${size}${weight}>${escapeXml(text)}</text>`;
}

function line(x1: number, y1: number, x2: number, y2: number, colour: string): string {
  return `<line x1="${n(x1)}" y1="${n(y1)}" x2="${n(x2)}" y2="${n(y2)}" stroke="${colour}" stroke-width="1"/>`;
}

/** Coordinates with at most two decimals keep the SVG small and byte-for-byte stable. */
function n(v: number): string {
  return String(Math.round(v * 100) / 100);
}
