// The thread pool's own stress check (native/threadpool_check.cc), compiled here with the pool:
// loops of 1-64 tasks back to back and after gaps long enough for the workers to sleep, throwing
// tasks, loops started inside a task and from a second caller. Every task must run exactly once
// and its plain writes be visible when run() returns; the backend tests reach the pool only
// through whole kernels.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hasCompiler, runNativeHarness } from './gemm-harness.js';

test('thread pool: every task of every loop runs once, its writes visible; throws, nesting and two callers', { skip: !hasCompiler && 'g++ is absent', timeout: 120_000 }, () => {
  const run = runNativeHarness('threadpool_check', ['native/threadpool_check.cc', 'native/threadpool.cc'], ['3'], 60_000); // a lost task hangs run(): killed
  assert.equal(run.status, 0, run.stdout + run.stderr);
  const result = JSON.parse(run.stdout.trim()) as { check: string; loops: number; failures: number };
  assert.equal(result.failures, 0, run.stderr);
  assert.ok(result.loops > 1000, `only ${result.loops} loops in 3 s`);
});
