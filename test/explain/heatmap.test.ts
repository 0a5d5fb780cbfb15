// Heat-map PNGs: the colour of each pixel from its attribution and gray level, whole-pixel
// upscaling, and panels side by side.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import pngjs from 'pngjs';
import * as lt from '../../src/index.js';
import { assertThrowsLathe } from '../helpers.js';

const pixel = (png: { width: number; data: Uint8Array }, x: number, y: number) => Array.from(png.data.subarray((y * png.width + x) * 4, (y * png.width + x) * 4 + 4));

test('positive attributions blend to red, negative to blue, none leaves the dimmed gray; pixels are upscaled whole', () => {
  // 99th percentile of |a| over 4 values is the largest, 2: a = 2 is full red, -1 half blue.
  const bytes = lt.explain.heatmapPng([{ gray: [0, 200, 100, 255], attributions: [2, -1, 0, 2] }], 2, 2, { scale: 3 });
  const png = pngjs.PNG.sync.read(Buffer.from(bytes));
  assert.deepEqual([png.width, png.height], [6, 6]);
  assert.deepEqual(pixel(png, 0, 0), [255, 0, 0, 255]);
  assert.deepEqual(pixel(png, 2, 2), [255, 0, 0, 255]); // the same source pixel, upscaled
  assert.deepEqual(pixel(png, 3, 0), [55, 103, 183, 255]); // 0.5 * 0.55 * 200 + 0.5 * (0, 96, 255)
  assert.deepEqual(pixel(png, 0, 3), [55, 55, 55, 255]); // 0.55 * 100, no colour
});

test('panels sit side by side with a white gap; the default scale is 8 for MNIST and smaller for large images', () => {
  const panel = { gray: new Array(784).fill(0), attributions: new Array(784).fill(0) };
  const png = pngjs.PNG.sync.read(Buffer.from(lt.explain.heatmapPng([panel, panel], 28, 28)));
  assert.deepEqual([png.width, png.height], [2 * 224 + 4, 224]);
  assert.deepEqual(pixel(png, 225, 0), [255, 255, 255, 255]);
  assert.deepEqual(pixel(png, 229, 0), [0, 0, 0, 255]);
  const big = { gray: new Array(224 * 224).fill(0), attributions: new Array(224 * 224).fill(0) };
  assert.equal(pngjs.PNG.sync.read(Buffer.from(lt.explain.heatmapPng([big], 224, 224))).width, 448);
});

test('image layouts: [C,H,W], [H,W] and a square flat vector; anything else is not an image', () => {
  assert.deepEqual(lt.explain.imageLayout([784]), { channels: 1, height: 28, width: 28 });
  assert.deepEqual(lt.explain.imageLayout([3, 32, 24]), { channels: 3, height: 32, width: 24 });
  assert.deepEqual(lt.explain.imageLayout([28, 28]), { channels: 1, height: 28, width: 28 });
  assert.equal(lt.explain.imageLayout([4]), null); // iris' four features, not a 2x2 image
  assert.deepEqual(lt.explain.imageLayout([64]), { channels: 1, height: 8, width: 8 });
  assert.equal(lt.explain.imageLayout([10]), null);
  assert.equal(lt.explain.imageLayout([5, 8, 8]), null);
});

test('a panel of the wrong size is refused', () => {
  assertThrowsLathe(() => lt.explain.heatmapPng([{ gray: [0, 0, 0], attributions: [0, 0, 0, 0] }], 2, 2), /heatmap: panel 0: expected 4 gray values and attributions for 2x2, got 3 and 4/);
});
