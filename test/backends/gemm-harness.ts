// The native C++ harnesses as tests (native/gemm/*_bench.cc, native/threadpool_check.cc):
// compiled with the machine's g++ (the compiler npm ci's node-gyp build uses) together with the
// sources they test, run once, and removed.
import assert from 'node:assert/strict';
import { type SpawnSyncReturns, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '..', '..', '..');

export const hasCompiler = spawnSync('g++', ['--version']).status === 0;

/** Builds native/gemm/<harness>.cc (the build must succeed) and runs it with `args`. */
export function runGemmHarness(harness: string, args: string[]): SpawnSyncReturns<string> {
  const gemm = fs.readdirSync(path.join(ROOT, 'native/gemm')).filter((f) => f.endsWith('.cc') && !f.endsWith('_bench.cc'));
  return runNativeHarness(harness, [`native/gemm/${harness}.cc`, ...gemm.map((f) => `native/gemm/${f}`), 'native/threadpool.cc'], args);
}

/**
 * Builds `sources` (paths from the repository root) into one program named `name` and runs it
 * with `args`, killed after timeoutMs: spawnSync blocks the event loop, so the test's own timeout
 * could not end a harness that hangs.
 */
export function runNativeHarness(name: string, sources: string[], args: string[], timeoutMs = 250_000): SpawnSyncReturns<string> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `lathe-${name}-`));
  try {
    const exe = path.join(dir, name);
    const build = spawnSync('g++', ['-O2', '-std=c++17', '-pthread', ...sources, '-o', exe], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(build.status, 0, build.stderr);
    const run = spawnSync(exe, args, { encoding: 'utf8', timeout: timeoutMs });
    assert.equal(run.error, undefined, `${name} ${args.join(' ')} did not finish within ${timeoutMs / 1000} s (${run.error?.message})`);
    return run;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
