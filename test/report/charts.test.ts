import * as fs from 'fs';
import {
  histogramSvg,
  horizontalBarSvg,
  niceTicks,
  thicknessBins,
  MAX_DISTINCT_THICKNESS_BARS,
  THICKNESS_RANGE_BINS,
} from '../../src/report/charts';
import { svgToPng, defaultFontFiles, DEJAVU_DIR } from '../../src/report/png';
import { countColour, countDark, decodePng } from './helpers';
import { DEJAVU_FONTS, requireTool } from '../helpers/tools';

const fonts = requireTool(DEJAVU_FONTS);

const BAR_RGB: [number, number, number] = [0x4a, 0x7b, 0xb7];

describe('thicknessBins', () => {
  it('gives each distinct thickness its own bar, in ascending order', () => {
    const bins = thicknessBins(new Map([[2.5, 10], [0.625, 3], [1.25, 7]]));
    expect(bins).toEqual([
      { label: '0.625', count: 3 },
      { label: '1.25', count: 7 },
      { label: '2.5', count: 10 },
    ]);
  });

  it('groups many distinct values into equal ranges that keep every instance', () => {
    const counts = new Map<number, number>();
    let total = 0;
    for (let i = 0; i <= MAX_DISTINCT_THICKNESS_BARS * 3; i++) {
      counts.set(1 + i * 0.01, i + 1);
      total += i + 1;
    }
    // values 1.00 … 1.60: width 0.6/20 = 0.03 rounds up to 0.05, ranges from 1 to 1.65
    const bins = thicknessBins(counts);
    expect(bins.length).toBeLessThanOrEqual(THICKNESS_RANGE_BINS + 1);
    expect(bins).toHaveLength(13);
    expect(bins.reduce((s, b) => s + b.count, 0)).toBe(total);
    expect(bins[0]).toEqual({ label: '1–1.05', count: [1, 2, 3, 4, 5].reduce((a, b) => a + b) });
    expect(bins[bins.length - 1].label).toBe('1.6–1.65');
    expect(bins[bins.length - 1].count).toBeGreaterThan(0); // the maximum lands in the last range
  });

  it('is empty without data', () => {
    expect(thicknessBins(new Map())).toEqual([]);
  });
});

describe('niceTicks', () => {
  it.each([
    [0, [0, 1]],
    [3, [0, 1, 2, 3]],
    [7, [0, 2, 4, 6, 8]],
    [10, [0, 2, 4, 6, 8, 10]],
    [480, [0, 100, 200, 300, 400, 500]],
  ])('ticks for max %d', (max, ticks) => {
    expect(niceTicks(max)).toEqual(ticks);
  });
});

describe('chart SVG', () => {
  it('escapes labels and has one bar per item', () => {
    const svg = horizontalBarSvg(
      [
        { label: '…123 (<script>alert(1)</script>)', value: 4, tooltip: '1.2.3' },
        { label: 'b & "c"', value: 2 },
      ],
      { title: 'Slices per series', xLabel: 'Slices', yLabel: 'Series' },
    );
    expect(svg).not.toContain('<script');
    expect(svg).toContain('&#60;script&#62;');
    expect(svg).toContain('b &#38; &#34;c&#34;');
    // background rect + 2 bars
    expect(svg.match(/<rect /g)).toHaveLength(3);
  });

  it('bar lengths are proportional to the values', () => {
    const svg = horizontalBarSvg(
      [
        { label: 'a', value: 10 },
        { label: 'b', value: 5 },
      ],
      { title: 't', xLabel: 'x', yLabel: 'y' },
    );
    const widths = [...svg.matchAll(/<rect x="230" y="[\d.]+" width="([\d.]+)"/g)].map((m) => Number(m[1]));
    expect(widths).toHaveLength(2);
    expect(widths[0] / widths[1]).toBeCloseTo(2, 2);
  });
});

describe('svgToPng', () => {
  const bins = thicknessBins(new Map([[0.625, 40], [1.25, 12], [2.5, 90]]));
  const svg = histogramSvg(bins, { title: 'Slice thickness', xLabel: 'SliceThickness (mm)', yLabel: 'Instances' });

  it('renders the bars even with no font at all', () => {
    const png = decodePng(svgToPng(svg, { fontFiles: [], loadSystemFonts: false }));
    expect(png.width).toBe(720 * 2);
    expect(png.height).toBeGreaterThan(0);
    expect(countColour(png, BAR_RGB)).toBeGreaterThan(1000);
  });

  // CI installs the Debian package fonts-dejavu-core so the PNG charts carry their labels.
  fonts.test('draws the labels with DejaVu Sans', () => {
    expect(fonts.path()).toBe(DEJAVU_DIR);
    expect(defaultFontFiles().length).toBeGreaterThan(0);
    const withText = decodePng(svgToPng(svg, { loadSystemFonts: false }));
    const withoutText = decodePng(svgToPng(svg, { fontFiles: [], loadSystemFonts: false }));
    // Text adds a lot of dark pixels on top of the same axes and bars.
    expect(countDark(withText)).toBeGreaterThan(countDark(withoutText) + 2000);
  });
});
