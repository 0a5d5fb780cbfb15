# numpy/OpenBLAS float32 GEMM, the peer for bench/gemm.mjs. One JSON line per case.
# Run with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset so OpenBLAS uses its AVX-512 kernels.
import json
import sys
import time

import numpy as np


def median_us(fn, budget_s):
    for _ in range(3):
        fn()
    times = []
    start = time.perf_counter()
    while len(times) < 5 or (time.perf_counter() - start < budget_s and len(times) < 100000):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1e6)
    times.sort()
    return times[len(times) // 2]


def case(m, n, k, trans_a, trans_b, budget_s):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((k, m) if trans_a else (m, k), dtype=np.float32)
    b = rng.standard_normal((n, k) if trans_b else (k, n), dtype=np.float32)
    x = a.T if trans_a else a
    y = b.T if trans_b else b
    us = median_us(lambda: x @ y, budget_s)
    return {"op": "gemm", "peer": "numpy-openblas", "m": m, "n": n, "k": k, "transA": trans_a, "transB": trans_b,
            "gflops": round(2 * m * n * k / us / 1e3, 2), "us": round(us, 2)}


if __name__ == "__main__":
    # argv: m n k transA transB budget_seconds
    m, n, k = (int(v) for v in sys.argv[1:4])
    print(json.dumps(case(m, n, k, sys.argv[4] == "1", sys.argv[5] == "1", float(sys.argv[6]))))
