// Image files as a model's input, and attributions back as heat-map panels. A model's input
// shape says how: [C,H,W] with C 1 or 3 (NCHW, as Lathe's convolutions), [H,W], or a flat
// [H*W] for a square grayscale image of 8x8 or more (the MNIST MLP's [784]).
import { fail, fmtShape } from '../errors.js';
import { decodeImageBytes } from '../data/sources/images.js';
import { fromArray } from '../tensor/create.js';
import type { Tensor } from '../tensor/tensor.js';
import type { Model } from '../train/model.js';
import type { HeatmapPanel } from './heatmap.js';

export interface ImageLayout {
  channels: 1 | 3;
  height: number;
  width: number;
}

/** A flat input is taken for a square image from 8x8 up (sklearn's digits); [4] or [16] are features. */
const MIN_FLAT_SIDE = 8;

/** How a per-example input shape holds an image, or null when it does not look like one. */
export function imageLayout(shape: readonly number[] | undefined): ImageLayout | null {
  if (!shape) return null;
  if (shape.length === 3 && (shape[0] === 1 || shape[0] === 3) && shape[1] > 1 && shape[2] > 1) return { channels: shape[0], height: shape[1], width: shape[2] };
  if (shape.length === 2 && shape[0] > 1 && shape[1] > 1) return { channels: 1, height: shape[0], width: shape[1] };
  if (shape.length === 1) {
    const side = Math.round(Math.sqrt(shape[0]));
    if (side >= MIN_FLAT_SIDE && side * side === shape[0]) return { channels: 1, height: side, width: side };
  }
  return null;
}

/**
 * Whether the model takes raw 0-255 pixels: it starts with a Rescaling layer, as every model
 * `lathe train` makes from images. Other models get pixels / 255, Keras' usual input.
 */
export function takesRawPixels(model: Model): boolean {
  const first = (model as { layers?: { type?: string }[] }).layers?.[0];
  return first?.type === 'rescaling';
}

/** An image file's bytes as a batch of one [1, ...shape], converted and resized to the layout (bilinear, as training's image loader). */
export function imageBatch(bytes: Uint8Array, file: string, shape: readonly number[], rawPixels: boolean): { x: Tensor; layout: ImageLayout } {
  const layout = imageLayout(shape);
  if (!layout) fail('explain', `${file} is an image, but the model's input ${fmtShape(shape)} is not an image shape ([C,H,W] with C 1 or 3, [H,W], or a square [H*W]); give --input a JSON body`);
  const img = decodeImageBytes(bytes, file, { channels: layout.channels, size: [layout.height, layout.width] });
  const data = Float32Array.from(img.data, (v) => (rawPixels ? v : v / 255));
  return { x: fromArray(data, [1, ...shape], { dtype: 'float32' }, 'explain', true), layout };
}

/**
 * One heat-map panel per example of x: the example's gray levels (the luma of RGB, scaled back
 * to 0-255 by `pixelScale`) and its attributions with the channels summed, so an IG panel
 * still adds up to f(x) - f(baseline).
 */
export function heatmapPanels(x: Tensor, attributions: Tensor, layout: ImageLayout, pixelScale: number): HeatmapPanel[] {
  const hw = layout.height * layout.width;
  const per = layout.channels * hw;
  if (x.size !== attributions.size || x.size % per !== 0) fail('explain', `attributions ${fmtShape(attributions.shape)} do not match the input ${fmtShape(x.shape)}`);
  const xs = x.dataSync() as ArrayLike<number>;
  const as = attributions.dataSync() as ArrayLike<number>;
  const luma = layout.channels === 3 ? [0.299, 0.587, 0.114] : [1];
  const panels: HeatmapPanel[] = [];
  for (let o = 0; o < x.size; o += per) {
    const gray = new Float64Array(hw);
    const attr = new Float64Array(hw);
    for (let c = 0; c < layout.channels; c++) {
      for (let p = 0; p < hw; p++) {
        gray[p] += luma[c] * xs[o + c * hw + p] * pixelScale;
        attr[p] += as[o + c * hw + p];
      }
    }
    panels.push({ gray, attributions: attr });
  }
  return panels;
}
