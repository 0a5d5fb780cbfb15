import { test } from 'node:test';
import * as lt from '../src/index.js';
import { assertClose, gradcheck, rand64 } from './helpers.js';

test('add and its gradient', () => {
  assertClose(lt.tensor([1, 2]).add(lt.tensor([3, 4])), [4, 6]);
  gradcheck((a, b) => a.mul(b), [rand64([2, 3], 1), rand64([3], 2)]);
});
