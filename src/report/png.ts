/**
 * SVG → PNG with resvg (a prebuilt native renderer: no browser, no canvas). resvg draws text only
 * with fonts it has loaded; without any font the chart still renders, just without its labels.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { ResvgRenderOptions } from '@resvg/resvg-js';

export const DEJAVU_DIR = '/usr/share/fonts/truetype/dejavu';
const DEJAVU_FILES = ['DejaVuSans.ttf', 'DejaVuSans-Bold.ttf'];

export interface PngFontOptions {
  /** TTF/OTF files to load; default: DejaVu Sans (regular and bold) when installed. */
  fontFiles?: string[];
  /** Also load the system's fonts (default: only when the DejaVu files are missing; scanning them costs ~0.1 s a chart). */
  loadSystemFonts?: boolean;
}

/** The DejaVu Sans files that exist on this machine (the charts ask for that family first). */
export function defaultFontFiles(dir = DEJAVU_DIR): string[] {
  return DEJAVU_FILES.map((f) => path.join(dir, f)).filter((f) => fs.existsSync(f));
}

/** resvg, loaded on first use (a native module): a worker takes its first task without it. */
export function loadResvg(): typeof import('@resvg/resvg-js') {
  return require('@resvg/resvg-js') as typeof import('@resvg/resvg-js');
}

function renderOptions(options: PngFontOptions): ResvgRenderOptions {
  const fontFiles = options.fontFiles ?? defaultFontFiles();
  return {
    fitTo: { mode: 'zoom', value: 2 },
    background: '#ffffff',
    font: {
      fontFiles,
      loadSystemFonts: options.loadSystemFonts ?? fontFiles.length === 0,
      ...(fontFiles.length > 0 ? { defaultFontFamily: 'DejaVu Sans', sansSerifFamily: 'DejaVu Sans' } : {}),
    },
  };
}

/** Renders an SVG string to PNG bytes at twice its size, so the image stays sharp on high-DPI screens. */
export function svgToPng(svg: string, options: PngFontOptions = {}): Buffer {
  return new (loadResvg().Resvg)(svg, renderOptions(options)).render().asPng();
}

/** The same, rendered on libuv's thread pool: this thread goes on meanwhile. */
export async function svgToPngAsync(svg: string, options: PngFontOptions = {}): Promise<Buffer> {
  return (await loadResvg().renderAsync(svg, renderOptions(options))).asPng();
}
