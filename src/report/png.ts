/**
 * SVG → PNG with resvg (a prebuilt native renderer: no browser, no canvas). resvg draws text only
 * with fonts it has loaded; without any font the chart still renders, just without its labels.
 */
import * as fs from 'fs';
import * as path from 'path';
import { Resvg } from '@resvg/resvg-js';

export const DEJAVU_DIR = '/usr/share/fonts/truetype/dejavu';
const DEJAVU_FILES = ['DejaVuSans.ttf', 'DejaVuSans-Bold.ttf'];

export interface PngFontOptions {
  /** TTF/OTF files to load; default: DejaVu Sans (regular and bold) when installed. */
  fontFiles?: string[];
  /** Also load the system's fonts (default true). */
  loadSystemFonts?: boolean;
}

/** The DejaVu Sans files that exist on this machine (the charts ask for that family first). */
export function defaultFontFiles(dir = DEJAVU_DIR): string[] {
  return DEJAVU_FILES.map((f) => path.join(dir, f)).filter((f) => fs.existsSync(f));
}

/** Renders an SVG string to PNG bytes at twice its size, so the image stays sharp on high-DPI screens. */
export function svgToPng(svg: string, options: PngFontOptions = {}): Buffer {
  const fontFiles = options.fontFiles ?? defaultFontFiles();
  const resvg = new Resvg(svg, {
    fitTo: { mode: 'zoom', value: 2 },
    background: '#ffffff',
    font: {
      fontFiles,
      loadSystemFonts: options.loadSystemFonts ?? true,
      ...(fontFiles.length > 0 ? { defaultFontFamily: 'DejaVu Sans', sansSerifFamily: 'DejaVu Sans' } : {}),
    },
  });
  return resvg.render().asPng();
}
