// Issue 11's acceptance 5 for memory: a tensor past the adapter's limits is an error naming the
// op and the shape, raised when the op runs, never a hang or a silently wrong result.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as lt from '../../src/index.js';
import { gpu, skip } from './webgpu-setup.js';

describe('webgpu limits', { skip }, () => {
  test('past the largest storage binding, and past the largest buffer: errors name the op and shape', async () => {
    const { maxStorageBufferBindingSize: binding, maxBufferSize } = gpu!.limits;
    const tooWide = Math.floor(binding / 4) + 256; // float32 elements one binding cannot hold
    assert.throws(() => lt.ones([tooWide], { backend: 'webgpu' }), (e: Error) => {
      assert.ok(e instanceof lt.LatheError, e.message);
      assert.match(e.message, new RegExp(`^fill \\[${tooWide}\\] float32: a \\d+ MiB tensor exceeds this adapter's largest storage binding \\(\\d+ MiB\\)`));
      return true;
    });
    const tooBig = Math.floor(maxBufferSize / 4) + 1;
    assert.throws(() => lt.ones([tooBig], { backend: 'webgpu' }), /: fill \[\d+\] float32: .*(exceeds|buffer)/i);
    // The device is still usable afterwards.
    const y = lt.tensor([1, 2, 3], { backend: 'webgpu' }).mul(2);
    assert.deepEqual(Array.from(await y.data()), [2, 4, 6]);
  });
});
