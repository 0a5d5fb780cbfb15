// Heat maps of image attributions as PNG: the image in gray with the attributions blended over
// it, red where they are positive and blue where negative, upscaled by whole pixels (nearest
// neighbour) so that a 28x28 digit is legible. Several panels sit side by side in one file.
import pngjs from 'pngjs';
import { fail } from '../errors.js';

export interface HeatmapPanel {
  /** Gray levels 0..255, height x width, row-major. */
  gray: ArrayLike<number>;
  /** One attribution per pixel (channels already combined), height x width. */
  attributions: ArrayLike<number>;
}

export interface HeatmapOptions {
  /** Whole-pixel upscaling; default: 8, less for large images so a panel stays within about 448 pixels. */
  scale?: number;
}

const POSITIVE = [255, 0, 0];
const NEGATIVE = [0, 96, 255];
/** The gray image is dimmed so that the colour reads on white strokes too. */
const BASE = 0.55;
const GAP = 4;

/** The upscaling used when none is given: x8, or less, down to x1, for images over 56 pixels. */
export function defaultScale(height: number, width: number): number {
  return Math.max(1, Math.min(8, Math.floor(448 / Math.max(height, width))));
}

/**
 * The magnitude that maps to full colour: the 99th percentile of |attribution| (so a few extreme
 * pixels do not wash the rest out), or the maximum when that is zero.
 */
export function colourRange(values: ArrayLike<number>): number {
  const mags = Float64Array.from(values, Math.abs).sort();
  const q = mags[Math.min(mags.length - 1, Math.floor(0.99 * mags.length))];
  return q > 0 ? q : mags[mags.length - 1];
}

/** The panels as one PNG file's bytes. */
export function heatmapPng(panels: readonly HeatmapPanel[], height: number, width: number, options: HeatmapOptions = {}): Uint8Array {
  if (panels.length === 0) fail('heatmap', 'no panels to draw');
  const scale = options.scale ?? defaultScale(height, width);
  if (!Number.isInteger(scale) || scale < 1) fail('heatmap', `scale must be a positive integer, got ${JSON.stringify(scale)}`);
  const panelW = width * scale;
  const png = new pngjs.PNG({ width: panels.length * panelW + (panels.length - 1) * GAP, height: height * scale });
  png.data.fill(255); // white gaps between panels
  panels.forEach((p, n) => {
    if (p.gray.length !== height * width || p.attributions.length !== height * width) {
      fail('heatmap', `panel ${n}: expected ${height * width} gray values and attributions for ${height}x${width}, got ${p.gray.length} and ${p.attributions.length}`);
    }
    const range = colourRange(p.attributions);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const a = p.attributions[y * width + x];
        const t = range > 0 ? Math.min(1, Math.abs(a) / range) : 0;
        const colour = a >= 0 ? POSITIVE : NEGATIVE;
        const g = BASE * Math.max(0, Math.min(255, p.gray[y * width + x]));
        const rgb = colour.map((c) => Math.round((1 - t) * g + t * c));
        for (let dy = 0; dy < scale; dy++) {
          let o = ((y * scale + dy) * png.width + n * (panelW + GAP) + x * scale) * 4;
          for (let dx = 0; dx < scale; dx++, o += 4) {
            png.data[o] = rgb[0];
            png.data[o + 1] = rgb[1];
            png.data[o + 2] = rgb[2];
            png.data[o + 3] = 255;
          }
        }
      }
    }
  });
  return pngjs.PNG.sync.write(png);
}
