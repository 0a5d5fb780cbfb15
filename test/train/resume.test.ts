// Resuming (issue 4): "A run killed at any moment, even with kill -9, resumes from its last
// checkpoint with the same results as an uninterrupted run from that point, given the same seed."
// In process: BackupAndRestore + ModelCheckpoint over 2 epochs, then a fresh model resumes to 4,
// which must equal a straight 4-epoch run bit for bit. Across processes: `lathe train` killed
// with SIGKILL mid-epoch, then `lathe train --resume`, against an uninterrupted run.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import * as lt from '../../src/index.js';
import { digitTensors, mlpConfig, snapshot, writeSyntheticMnist } from './synthetic-mnist.js';

const { BackupAndRestore, Callback, ModelCheckpoint, ReduceLROnPlateau, EarlyStopping } = lt.callbacks;
const { Dense, Dropout } = lt.layers;

const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'lathe-resume-'));
after(() => fs.rmSync(tmpRoot, { recursive: true, force: true }));
let tmpCount = 0;
const tmpDir = () => path.join(tmpRoot, String(++tmpCount));

const train = digitTensors(200, 1);
const val = digitTensors(50, 2);

/** Sets logs.val_loss to values[epoch], so that plateau callbacks act at known epochs. */
class Script extends Callback {
  constructor(readonly values: number[]) {
    super();
  }
  override onEpochEnd(epoch: number, logs: lt.callbacks.Logs): void {
    logs.val_loss = this.values[epoch];
  }
}

interface Setup {
  dropout?: 'shared' | 'seeded';
  optimizer?: Record<string, unknown>;
  /** Callbacks that shape training, made fresh for each run (as a restarted program would). */
  extra?: () => lt.callbacks.Callback[];
  /** ModelCheckpoint before the extra callbacks instead of after them. */
  checkpointFirst?: boolean;
}

function build(setup: Setup, initSeed: number): lt.Sequential {
  lt.manualSeed(initSeed);
  const layers: lt.nn.Layer[] = [new Dense(16, { activation: 'relu', inputShape: [784] })];
  if (setup.dropout) layers.push(new Dropout(0.3, setup.dropout === 'seeded' ? { seed: 5 } : {}));
  layers.push(new Dense(10, { activation: 'softmax' }));
  return new lt.Sequential(layers).compile({ optimizer: setup.optimizer ?? { type: 'adam', lr: 0.01 }, loss: 'sparse_categorical_crossentropy', metrics: ['accuracy'] });
}

/** fit() to `epochs` with checkpoints in `dir` (resuming from them if there), on a model initialised from `initSeed`. */
async function run(setup: Setup, epochs: number, dir: string, initSeed = 0) {
  const model = build(setup, initSeed);
  const restore = new BackupAndRestore(path.join(dir, 'last.safetensors'));
  const checkpoint = new ModelCheckpoint(dir);
  const extra = setup.extra?.() ?? [];
  const callbacks = setup.checkpointFirst ? [restore, checkpoint, ...extra] : [restore, ...extra, checkpoint];
  const history = await model.fit(train.x, train.y, { epochs, batchSize: 32, verbose: 0, seed: 9, validationData: [val.x, val.y], callbacks });
  return { model, history, restore, weights: snapshot(model), lr: model.optimizer!.lr, iterations: model.optimizer!.iterations };
}

/** A straight 4-epoch run, and one stopped after 2 and resumed to 4 on a differently initialised model. */
async function compare(setup: Setup) {
  const straight = await run(setup, 4, tmpDir());
  const dir = tmpDir();
  const first = await run(setup, 2, dir);
  assert.equal(first.restore.resumedAt, null);
  const resumed = await run(setup, 4, dir, 123);
  assert.equal(resumed.restore.resumedAt, 2);
  assert.notDeepEqual(first.weights, straight.weights, 'the runs differ after 2 and 4 epochs (or the test cannot tell)');
  return { straight, resumed };
}

function assertSameRun(a: Awaited<ReturnType<typeof run>>, b: Awaited<ReturnType<typeof run>>): void {
  assert.deepEqual(a.weights, b.weights, 'weights bit for bit');
  assert.deepEqual(a.history, b.history, 'history, all 4 epochs');
  assert.equal(a.lr, b.lr);
  assert.equal(a.iterations, b.iterations);
}

describe('resume in process (BackupAndRestore + ModelCheckpoint)', () => {
  test('Adam: 2 epochs, then a fresh model resumed to 4, equals a straight 4-epoch run', async () => {
    const { straight, resumed } = await compare({});
    assertSameRun(resumed, straight);
    assert.equal(resumed.iterations, 4 * 7);
  });

  test('SGD with momentum and Nesterov: the velocity slots come back', async () => {
    const { straight, resumed } = await compare({ optimizer: { type: 'sgd', lr: 0.05, momentum: 0.9, nesterov: true } });
    assertSameRun(resumed, straight);
  });

  test('with Dropout drawing from the shared generator: its state comes back', async () => {
    const { straight, resumed } = await compare({ dropout: 'shared' });
    assertSameRun(resumed, straight);
  });

  test('with Dropout seeded by its own generator: its state comes back', async () => {
    const { straight, resumed } = await compare({ dropout: 'seeded' });
    assertSameRun(resumed, straight);
  });

  test('ReduceLROnPlateau that cut the rate before the checkpoint: the cut rate comes back', async () => {
    // patience 1 on a rising val_loss: cuts at the ends of epochs 1, 2 and 3 (0-based)
    const setup = { extra: () => [new Script([1, 2, 3, 4]), new ReduceLROnPlateau({ factor: 0.5, patience: 1 })] };
    const { straight, resumed } = await compare(setup);
    assert.equal(straight.lr, 0.01 / 8);
    assertSameRun(resumed, straight);
  });

  for (const checkpointFirst of [false, true]) {
    test(`ReduceLROnPlateau whose plateau spans the interruption cuts where the straight run did${checkpointFirst ? ' (ModelCheckpoint listed first)' : ''}`, async () => {
      // patience 2: epochs 1 and 2 do not improve on epoch 0, so the rate halves at the end of
      // epoch 2, one epoch after the checkpoint; only a restored wait count gets that right.
      const setup = { checkpointFirst, extra: () => [new Script([1, 2, 3, 4]), new ReduceLROnPlateau({ factor: 0.5, patience: 2 })] };
      const { straight, resumed } = await compare(setup);
      assert.equal(straight.lr, 0.005);
      assertSameRun(resumed, straight);
    });
  }

  test('EarlyStopping whose patience spans the interruption stops where the straight run did', async () => {
    const setup = { extra: () => [new Script([1, 2, 3, 4, 5, 6]), new EarlyStopping({ patience: 2 })] };
    const straight = await run(setup, 6, tmpDir());
    assert.deepEqual(straight.history.epoch, [0, 1, 2]);
    const dir = tmpDir();
    await run(setup, 2, dir);
    const resumed = await run(setup, 6, dir, 123);
    assertSameRun(resumed, straight);
  });

  test('best.safetensors keeps the best epoch across the interruption', async () => {
    const setup = { extra: () => [new Script([1, 0.5, 2, 3])] };
    const dir = tmpDir();
    await run(setup, 2, dir);
    const best = fs.readFileSync(path.join(dir, 'best.safetensors'));
    await run(setup, 4, dir, 123);
    assert.equal(lt.readCheckpoint(path.join(dir, 'best.safetensors')).state.epoch, 2);
    assert.ok(fs.readFileSync(path.join(dir, 'best.safetensors')).equals(best), 'a worse epoch after resuming did not replace it');
  });

  test('a finished run resumed again trains no more', async () => {
    const dir = tmpDir();
    const done = await run({}, 2, dir);
    const again = await run({}, 2, dir, 123);
    assert.equal(again.restore.resumedAt, 2);
    assertSameRun(again, done);
  });

  test('a checkpoint of another model is refused by name, before training', async () => {
    const dir = tmpDir();
    await run({}, 1, dir);
    lt.manualSeed(0);
    const other = new lt.Sequential([new Dense(10, { activation: 'softmax', inputShape: [784] })]).compile({ optimizer: 'adam', loss: 'sparse_categorical_crossentropy' });
    const before = snapshot(other);
    await assert.rejects(
      other.fit(train.x, train.y, { epochs: 2, verbose: 0, callbacks: [new BackupAndRestore(path.join(dir, 'last.safetensors'))] }),
      /loadStateDict: (missing|unexpected) .*layers\.1\.(kernel|bias)/,
    );
    assert.deepEqual(snapshot(other), before);
  });
});

// ---------------------------------------------------------------------------------------------
// Across processes: the CLI, killed with SIGKILL.

const root = fileURLToPath(new URL('../../../', import.meta.url));
const bin = path.join(root, 'bin', 'lathe.js');

describe('lathe train killed with SIGKILL, then --resume', () => {
  // 2400 examples in batches of 4: 600 steps an epoch (0.15-0.4 s), far longer than the few
  // milliseconds between the epoch's line on stdout and the kill, so the kill lands inside the next.
  const data = writeSyntheticMnist(2400, 200, 3);
  const config = path.join(tmpRoot, 'config.json');
  fs.writeFileSync(config, JSON.stringify(mlpConfig({ hidden: 32, epochs: 3, batchSize: 4, lr: 0.002, dropout: 0.2, seed: 4 })));
  after(() => fs.rmSync(data, { recursive: true, force: true }));
  const args = (out: string) => [bin, 'train', config, '--data', data, '--out', out, '--json'];

  /** Runs `lathe train` and SIGKILLs it as soon as `epochs` checkpoints were reported; resolves to what happened. */
  function trainAndKill(out: string, extra: string[], epochs: number): Promise<{ killed: boolean; lines: Record<string, unknown>[] }> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [...args(out), ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
      const lines: Record<string, unknown>[] = [];
      let buf = '';
      let stderr = '';
      child.stderr.on('data', (d) => (stderr += d));
      child.stdout.on('data', (d: Buffer) => {
        buf += d.toString();
        let nl;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          if (!line.startsWith('{')) continue;
          lines.push(JSON.parse(line));
          // the checkpoint is written before the epoch's line is printed
          if (lines.filter((l) => 'epoch' in l && !('done' in l)).length === epochs) child.kill('SIGKILL');
        }
      });
      child.on('error', reject);
      child.on('close', (code, signal) => (code === 0 || signal === 'SIGKILL' ? resolve({ killed: signal === 'SIGKILL', lines }) : reject(new Error(`lathe train exited ${code}: ${stderr}`))));
    });
  }

  const finalWeights = (out: string) => {
    const { tensors } = lt.decodeSafetensors(fs.readFileSync(path.join(out, 'model', 'weights.safetensors')));
    return Object.fromEntries(Object.entries(tensors).map(([k, t]) => [k, Float64Array.from(t.dataSync())]));
  };
  const figures = (l: Record<string, unknown>) => ({ ...l, seconds: 0 });

  test('resumes mid-run and ends with the uninterrupted run\'s weights and metrics, bit for bit', async () => {
    const straightDir = path.join(tmpRoot, 'straight');
    const r = spawnSync(process.execPath, args(straightDir), { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const straight = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(straight.length, 4);

    const out = path.join(tmpRoot, 'killed');
    // killed in epoch 2, after the first checkpoint
    const k1 = await trainAndKill(out, [], 1);
    assert.ok(k1.killed, 'the run was still going when killed');
    assert.ok(!fs.existsSync(path.join(out, 'model')), 'no final model yet');
    const ck = lt.readCheckpoint(path.join(out, 'checkpoints', 'last.safetensors'));
    assert.equal(ck.state.epoch, 1, 'killed mid-epoch 2: the checkpoint is epoch 1\'s');
    assert.ok(fs.readdirSync(path.join(out, 'checkpoints')).every((f) => f.endsWith('.safetensors') || f.includes('.tmp-')), 'only checkpoints (and perhaps a temp file the kill cut short)');

    // resumed, then killed again in epoch 3
    const k2 = await trainAndKill(out, ['--resume'], 1);
    assert.ok(k2.killed);
    assert.equal(lt.readCheckpoint(path.join(out, 'checkpoints', 'last.safetensors')).state.epoch, 2);

    // resumed to the end
    const r3 = spawnSync(process.execPath, [...args(out), '--resume'], { encoding: 'utf8' });
    assert.equal(r3.status, 0, r3.stderr);
    const tail = r3.stdout.trim().split('\n').map((l) => JSON.parse(l));
    const done = tail.pop();
    assert.equal(done.resumed_at_epoch, 2);
    assert.equal(done.epochs, 3);
    assert.equal(done.val_accuracy, straight[3].val_accuracy);
    assert.equal(done.val_loss, straight[3].val_loss);

    // each epoch's figures, whichever process computed them, equal the straight run's
    assert.deepEqual([k1.lines[0], k2.lines[0], tail[0]].map(figures), straight.slice(0, 3).map(figures));
    assert.deepEqual(finalWeights(out), finalWeights(straightDir));
    // metrics.jsonl holds each epoch once
    const metrics = fs.readFileSync(path.join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l))
      .filter((l) => l.kind === 'epoch').map(({ kind: _, lr: __, time: ___, ...l }) => figures(l));
    assert.deepEqual(metrics, straight.slice(0, 3).map(figures));
  });
});
