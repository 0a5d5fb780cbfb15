// The brief's MNIST run, Lathe beside PyTorch 1.13 (2 threads, same model, batch, optimizer and
// data): median epoch time, peak memory and accuracy of each, and the ratio. The two run one
// after the other in this process's run, so they see the same machine state.
//   node bench/mnist-mlp.mjs [--data DIR] [--epochs 10] [--arch mlp|cnn]
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith('--') ? [...acc, [a.slice(2), all[i + 1]]] : acc), []));
const data = args.data ?? path.join(process.env.LATHE_DATA ?? path.join(root, '../shared/data'), 'mnist');
const arch = args.arch ?? 'mlp';
const epochs = String(args.epochs ?? (arch === 'mlp' ? 10 : 3));

function lastJson(cmd, argv) {
  const r = spawnSync(cmd, argv, { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) return { error: (r.stderr || r.error?.message || '').trim().split('\n').slice(-3).join(' ') };
  const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
  return { done: lines[lines.length - 1], epochs: lines.slice(0, -1) };
}

const out = fs.mkdtempSync(path.join(os.tmpdir(), 'lathe-bench-'));
const lathe = lastJson(process.execPath, [path.join(root, 'bin/lathe.js'), 'train', path.join(root, `examples/mnist-${arch}.json`), '--data', data, '--epochs', epochs, '--out', path.join(out, 'run'), '--json']);
const torch = lastJson('/usr/bin/python3', [path.join(root, 'bench/peers/torch_mnist.py'), data, arch, epochs, '2']);
fs.rmSync(out, { recursive: true, force: true });
const l = lathe.done ?? {};
const t = torch.done ?? {};
console.log(JSON.stringify({
  bench: `mnist-${arch}`,
  epochs: Number(epochs),
  lathe_median_epoch_s: l.median_epoch_seconds ?? null,
  lathe_val_accuracy: l.val_accuracy ?? null,
  lathe_peak_rss_mb: l.peak_rss_mb ?? null,
  peer: 'pytorch-1.13',
  peer_median_epoch_s: t.median_epoch_seconds ?? null,
  peer_val_accuracy: t.val_accuracy ?? null,
  peer_peak_rss_mb: t.peak_rss_mb ?? null,
  time_ratio: l.median_epoch_seconds && t.median_epoch_seconds ? +(l.median_epoch_seconds / t.median_epoch_seconds).toFixed(3) : null,
  ...(lathe.error ? { lathe_error: lathe.error } : {}),
  ...(torch.error ? { peer_error: torch.error } : {}),
}));
