// The int8 GEMM (native/gemm/qgemm*) is not wired into the backend yet (issue 10), so its own C++
// harness is the test: compiled here with the machine's g++ (the compiler npm ci's node-gyp build
// uses) and run in `check` mode, which compares every kernel this CPU runs (portable, AVX2,
// AVX-512 VNNI) exactly with an int32 reference loop on odd shapes, saturation edges and both
// thread splits, and checks the fused dequantization against float64.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';

const ROOT = path.resolve(import.meta.dirname, '..', '..', '..');
const hasCompiler = spawnSync('g++', ['--version']).status === 0;

test('int8 GEMM: every kernel exact against int32 references, the dequantized output within float rounding', { skip: !hasCompiler && 'g++ is absent', timeout: 180_000 }, () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lathe-qgemm-'));
  try {
    const gemm = fs.readdirSync(path.join(ROOT, 'native/gemm')).filter((f) => f.endsWith('.cc') && !f.endsWith('_bench.cc'));
    const exe = path.join(dir, 'qgemm_bench');
    const build = spawnSync('g++', ['-O2', '-std=c++17', '-pthread', 'native/gemm/qgemm_bench.cc', ...gemm.map((f) => `native/gemm/${f}`), 'native/threadpool.cc', '-o', exe], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(build.status, 0, build.stderr);
    const run = spawnSync(exe, ['check'], { encoding: 'utf8' });
    assert.equal(run.status, 0, run.stdout + run.stderr);
    const lines = run.stdout.trim().split('\n').map((l) => JSON.parse(l));
    const checks = lines.filter((l) => l.check === 'qgemm');
    assert.ok(checks.some((c) => c.kernel === 'portable'), 'the portable kernel is always checked');
    for (const c of checks) {
      assert.ok(c.cases > 1000, `${c.kernel}: ${c.cases} cases`);
      assert.equal(c.failed, 0, `${c.kernel} failed ${c.failed} cases`);
    }
    assert.ok(lines.some((l) => l.check === 'qgemm-negative-control' && l.caught), 'a deliberately wrong result is caught');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
