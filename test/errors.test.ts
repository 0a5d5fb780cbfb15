// Bad input throws errors that name the op and the offending shapes, axes or indices
// (issue 2, acceptance 4). Each op's own test file checks more cases.
import { test } from 'node:test';
import * as lt from '../src/index.js';
import { assertThrowsLathe, onEachBackend } from './helpers.js';

onEachBackend('errors name the problem', () => {
  test('shape mismatch in add', () => {
    assertThrowsLathe(() => lt.zeros([2, 3]).add(lt.zeros([4])), /^add: shapes do not broadcast: \[2,3\] and \[4\]$/);
  });

  test('shape mismatch in matmul', () => {
    assertThrowsLathe(() => lt.zeros([32, 784]).matmul(lt.zeros([128, 10])), /^matmul: inner dimensions differ: \[32,784\] x \[128,10\]$/);
  });

  test('shape mismatch in conv2d', () => {
    assertThrowsLathe(
      () => lt.conv2d(lt.zeros([1, 3, 8, 8]), lt.zeros([4, 2, 3, 3])),
      /^conv2d: input \[1,3,8,8\] has 3 channels, weight \[4,2,3,3\] expects 2$/,
    );
    assertThrowsLathe(() => lt.conv2d(lt.zeros([3, 8, 8]), lt.zeros([4, 3, 3, 3])), /^conv2d: input must be 4-D \(N, C, H, W\), got \[3,8,8\]$/);
  });

  test('shape mismatch in reshape', () => {
    assertThrowsLathe(() => lt.zeros([2, 3]).reshape([4, 2]), /^reshape: cannot reshape \[2,3\] \(6 elements\) into \[4,2\] \(8 elements\)$/);
  });

  test('axis out of range', () => {
    assertThrowsLathe(() => lt.zeros([2, 3]).sum(2), /^sum: axis 2 is out of range for a tensor of rank 2 \(expected -2\.\.1\)$/);
    assertThrowsLathe(() => lt.zeros([2, 3]).softmax(-3), /^softmax: axis -3 is out of range/);
  });

  test('index out of range in gather', () => {
    const x = lt.zeros([2, 3]);
    assertThrowsLathe(() => x.gather(1, lt.tensor([[0, 3]], { dtype: 'int32' })), /^gather: index 3 is out of range for axis 1 of size 3 in \[2,3\]$/);
    assertThrowsLathe(() => x.indexSelect(0, [0, -1]), /^indexSelect: index -1 is out of range for axis 0 of size 2 in \[2,3\]$/);
  });

  test('tensors on different backends are not mixed silently', { skip: lt.listBackends().length < 2 }, () => {
    const [a, b] = lt.listBackends();
    assertThrowsLathe(() => lt.ones([1], { backend: a }).add(lt.ones([1], { backend: b })), /add: tensors are on different backends/);
  });
});
