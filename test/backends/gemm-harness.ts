// The GEMM's C++ harnesses (native/gemm/*_bench.cc) as tests: compiled with the machine's g++
// (the compiler npm ci's node-gyp build uses) together with the GEMM sources and the thread
// pool, run once, and removed.
import assert from 'node:assert/strict';
import { type SpawnSyncReturns, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '..', '..', '..');

export const hasCompiler = spawnSync('g++', ['--version']).status === 0;

/** Builds native/gemm/<harness>.cc (the build must succeed) and runs it with `args`. */
export function runGemmHarness(harness: string, args: string[]): SpawnSyncReturns<string> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `lathe-${harness}-`));
  try {
    const gemm = fs.readdirSync(path.join(ROOT, 'native/gemm')).filter((f) => f.endsWith('.cc') && !f.endsWith('_bench.cc'));
    const exe = path.join(dir, harness);
    const build = spawnSync('g++', ['-O2', '-std=c++17', '-pthread', `native/gemm/${harness}.cc`, ...gemm.map((f) => `native/gemm/${f}`), 'native/threadpool.cc', '-o', exe], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(build.status, 0, build.stderr);
    return spawnSync(exe, args, { encoding: 'utf8' });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
