// The float GEMM's own C++ harness (native/gemm/gemm_bench.cc) in `check` mode, compiled here
// (gemm-harness.ts) as qgemm.test.ts does: the backend tests reach only the kernel family
// this CPU picks, while the harness forces each one it can run (portable always, AVX2 and
// AVX-512 where the CPU has them) through fixed shapes past every block and threshold, random
// shapes, and the prepacked weights, each against a float64 reference or, for the prepacked
// weights, the same product packed per call, bit for bit.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hasCompiler, runGemmHarness } from './gemm-harness.js';

test('float GEMM: every kernel family this CPU runs, fixed and random shapes, prepacked weights', { skip: !hasCompiler && 'g++ is absent', timeout: 300_000 }, () => {
  const run = runGemmHarness('gemm_bench', ['check', 'fuzz=150']);
  assert.equal(run.status, 0, run.stdout + run.stderr);
  const lines = run.stdout.trim().split('\n');
  assert.ok(lines.some((l) => l.startsWith('PASS overall')), run.stdout);
  assert.ok(!lines.some((l) => l.startsWith('FAIL')), run.stdout);
  const checked = (what: string) => new Set(lines.filter((l) => l.startsWith(`PASS ${what} kernel=`)).map((l) => /kernel=(\w+)/.exec(l)![1]));
  for (const what of ['sgemm', 'dgemm', 'prepacked', 'fuzz sgemm']) {
    assert.ok(checked(what).has('portable'), `${what}: the portable kernel is always checked\n${run.stdout}`);
    const auto = /auto kernel: (\w+)/.exec(run.stdout)![1];
    assert.ok(checked(what).has(auto), `${what}: the kernel this CPU picks (${auto}) is checked\n${run.stdout}`);
  }
});
