// The int8 GEMM (native/gemm/qgemm*) is not wired into the backend yet (issue 10), so its own C++
// harness is the test: compiled here (gemm-harness.ts) and run in `check` mode, which compares
// every kernel this CPU runs (portable, AVX2, AVX-512 VNNI) exactly with an int32 reference loop
// on odd shapes, saturation edges and both thread splits, and checks the fused dequantization
// against float64.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hasCompiler, runGemmHarness } from './gemm-harness.js';

test('int8 GEMM: every kernel exact against int32 references, the dequantized output within float rounding', { skip: !hasCompiler && 'g++ is absent', timeout: 180_000 }, () => {
  const run = runGemmHarness('qgemm_bench', ['check']);
  assert.equal(run.status, 0, run.stdout + run.stderr);
  const lines = run.stdout.trim().split('\n').map((l) => JSON.parse(l));
  const checks = lines.filter((l) => l.check === 'qgemm');
  assert.ok(checks.some((c) => c.kernel === 'portable'), 'the portable kernel is always checked');
  for (const c of checks) {
    assert.ok(c.cases > 1000, `${c.kernel}: ${c.cases} cases`);
    assert.equal(c.failed, 0, `${c.kernel} failed ${c.failed} cases`);
  }
  assert.ok(lines.some((l) => l.check === 'qgemm-negative-control' && l.caught), 'a deliberately wrong result is caught');
});
