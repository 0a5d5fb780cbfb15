# Side-by-side sgemm benchmark: Lathe's gemm_bench vs numpy (OpenBLAS) on the same shapes,
# interleaved round by round because the machine is shared; prints best-of-rounds and ratios.
# Usage: python3 bench_vs_numpy.py /tmp/gemm_bench [rounds] [threads] [all|train|square]
#   (run numpy's OpenBLAS unpinned: env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python3 ...)
import json
import subprocess
import sys
import time

import numpy as np

BENCH = sys.argv[1] if len(sys.argv) > 1 else "/tmp/gemm_bench"
ROUNDS = int(sys.argv[2]) if len(sys.argv) > 2 else 3
THREADS = int(sys.argv[3]) if len(sys.argv) > 3 else 2
WHICH = sys.argv[4] if len(sys.argv) > 4 else "all"

# (m, n, k, transA, transB): squares, then forward, dW = X^T G, dX = G W^T.
CASES = [(s, s, s, False, False) for s in (256, 512, 1024, 2048, 4096)] + [
    (32, 128, 784, False, False),
    (784, 128, 32, True, False),
    (32, 784, 128, False, True),
]
CASES = [c for c in CASES if WHICH == "all" or (WHICH == "train") == (c[0] != c[1] or c[1] != c[2])]


def budget(m, n, k):
    return 0.3 if 2 * m * n * k < 2e9 else 2.0


def numpy_us(m, n, k, ta, tb):
    rng = np.random.default_rng(0)
    a = rng.random((k, m), np.float32).T if ta else rng.random((m, k), np.float32)
    b = rng.random((n, k), np.float32).T if tb else rng.random((k, n), np.float32)
    c = np.empty((m, n), np.float32)
    np.matmul(a, b, out=c)
    t = time.perf_counter()
    np.matmul(a, b, out=c)
    once = max(time.perf_counter() - t, 1e-7)
    reps = max(1, int(budget(m, n, k) / 5 / once))
    best = 1e30
    for _ in range(5):
        t = time.perf_counter()
        for _ in range(reps):
            np.matmul(a, b, out=c)
        best = min(best, (time.perf_counter() - t) / reps)
    return best * 1e6


def lathe_run(m, n, k, ta, tb):
    shape = f"shape={m}x{n}x{k}" + ("a" if ta else "") + ("b" if tb else "")
    out = subprocess.run([BENCH, "kernels=auto", f"threads={THREADS}", f"budget={budget(m, n, k)}", shape],
                         check=True, capture_output=True, text=True).stdout
    rec = json.loads(out.strip().splitlines()[-1])
    return rec["us"], rec["kernel"]


def main():
    best = {}
    for r in range(ROUNDS):
        for case in CASES:
            us, kernel = lathe_run(*case)
            time.sleep(0.2)  # let OpenBLAS's spinning workers and ours settle between runs
            nus = numpy_us(*case)
            time.sleep(0.2)
            prev = best.get(case, (1e30, 1e30, kernel))
            best[case] = (min(prev[0], us), min(prev[1], nus), kernel)
            print(f"round {r}: {case} lathe {us:.1f} us numpy {nus:.1f} us", file=sys.stderr, flush=True)
    print(f"| shape (MxNxK) | op | lathe GFLOP/s | numpy GFLOP/s | lathe us | numpy us | lathe/numpy speed |")
    print("|---|---|---|---|---|---|---|")
    for case, (us, nus, kernel) in best.items():
        m, n, k, ta, tb = case
        gf = lambda t: 2.0 * m * n * k / t * 1e-3
        op = "A^T B" if ta else "A B^T" if tb else "A B"
        print(f"| {m}x{n}x{k} | {op} | {gf(us):.1f} | {gf(nus):.1f} | {us:.1f} | {nus:.1f} | {nus / us:.2f} |")
        print(json.dumps({"op": "gemm", "m": m, "n": n, "k": k, "threads": THREADS, "kernel": kernel,
                          "gflops": round(gf(us), 1), "us": round(us, 1), "numpy_gflops": round(gf(nus), 1),
                          "numpy_us": round(nus, 1), "ratio": round(nus / us, 3)}), file=sys.stderr)


if __name__ == "__main__":
    main()
