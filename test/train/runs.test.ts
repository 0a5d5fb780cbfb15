// Reading and writing run folders (src/train/runs): metrics.jsonl as a killed run leaves it (a
// cut last line, a garbage line, steps a resume repeated), a "running" run whose process is gone,
// folders from before run.json, the writer's start/finish/resume, and StepLogger's records.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import * as lt from '../../src/index.js';
import { StepLogger } from '../../src/train/callbacks/loggers.js';
import { RunWriter, listRuns, parseMetricsText, readRun, runId } from '../../src/train/runs/index.js';
import { digitTensors } from './synthetic-mnist.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lathe-runs-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const step = (n: number, loss = 1 / n) => JSON.stringify({ kind: 'step', step: n, epoch: 1, loss, time: n / 10 });
const epoch = (n: number, extra: Record<string, number> = {}) => JSON.stringify({ kind: 'epoch', epoch: n, seconds: 0.5, loss: 1 / n, ...extra });

/** A pid that no process has: a child that has already exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', ''], { encoding: 'utf8' });
  return r.pid!;
}

function writeRun(name: string, files: Record<string, string | object>): string {
  const dir = path.join(tmp, 'runs', name);
  fs.mkdirSync(dir, { recursive: true });
  for (const [f, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    fs.writeFileSync(path.join(dir, f), typeof content === 'string' ? content : JSON.stringify(content));
  }
  return dir;
}

function record(status: string, pid: number, extra: Record<string, unknown> = {}) {
  return {
    format: 1, id: 'x', name: 'x', status, started: '2025-03-01T10:00:00.000Z', ended: null, pid,
    hyperparameters: { optimizer: 'adam' }, env: { lathe: '0.1.0', node: process.version, backend: 'js', threads: 1, cpu: 'cpu', platform: 'linux-x64', hostname: os.hostname() },
    summary: null, ...extra,
  };
}

describe('metrics.jsonl', () => {
  test('a last line cut mid-write is left out with a warning naming the file and line', () => {
    const text = `${step(1)}\n${step(2)}\n${epoch(1)}\n{"kind":"step","step":3,"ep`;
    const log = parseMetricsText(text, 'runs/a/metrics.jsonl');
    assert.deepEqual(log.steps.map((s) => s.step), [1, 2]);
    assert.deepEqual(log.epochs.map((e) => e.epoch), [1]);
    assert.equal(log.cutShort, true);
    assert.deepEqual(log.warnings, ['runs/a/metrics.jsonl: line 4 is cut short (the run was probably stopped mid-write); read the lines before it']);
  });

  test('a garbage line is skipped with a warning, and the lines after it still count', () => {
    const text = `${step(1)}\n\u0000\u0000garbage\n[1,2]\n{"kind":"step","step":"two"}\n${step(2)}\n${epoch(1)}\n`;
    const log = parseMetricsText(text, 'm.jsonl');
    assert.deepEqual(log.steps.map((s) => s.step), [1, 2]);
    assert.equal(log.epochs.length, 1);
    assert.equal(log.cutShort, false);
    assert.deepEqual(log.warnings, [
      'm.jsonl: line 2 is not a step or epoch record (not valid JSON); skipped it',
      'm.jsonl: line 3 is not a step or epoch record; skipped it',
      'm.jsonl: line 4 is not a step or epoch record; skipped it',
    ]);
  });

  test('lines from before "kind": "epoch" and no "step" is an epoch line', () => {
    const log = parseMetricsText('{"epoch":1,"seconds":2,"loss":0.5}\n{"epoch":2,"seconds":2,"loss":0.25,"val_loss":0.3}\n', 'old.jsonl');
    assert.deepEqual(log.epochs, [
      { kind: 'epoch', epoch: 1, seconds: 2, loss: 0.5 },
      { kind: 'epoch', epoch: 2, seconds: 2, loss: 0.25, val_loss: 0.3 },
    ]);
    assert.deepEqual(log.steps, []);
    assert.deepEqual(log.warnings, []);
  });

  test('steps and epochs a resume ran again: the later lines win', () => {
    // killed in epoch 2 after step 5; resumed from the epoch-1 checkpoint, so steps 4-5 come again
    const text = [step(1), step(2), step(3), epoch(1), step(4, 9), step(5, 9), step(4, 0.4), step(5, 0.3), step(6), epoch(2)].join('\n');
    const log = parseMetricsText(text, 'm.jsonl');
    assert.deepEqual(log.steps.map((s) => [s.step, s.loss]), [[1, 1], [2, 0.5], [3, 1 / 3], [4, 0.4], [5, 0.3], [6, 1 / 6]]);
    assert.deepEqual(log.epochs.map((e) => e.epoch), [1, 2]);
  });
});

describe('readRun and listRuns', () => {
  test('a "running" run whose process is gone reads as stopped, with its cut line reported', () => {
    const dir = writeRun('killed', { 'run.json': record('running', deadPid()), 'metrics.jsonl': `${step(1)}\n${epoch(1, { time: 3 })}\n${step(2).slice(0, 20)}` });
    const run = readRun(dir);
    assert.equal(run.status, 'stopped');
    assert.equal(run.epochs.length, 1);
    assert.equal(run.durationSeconds, 3, 'up to its last line');
    assert.equal(run.summary.loss, 1, 'figures from the last epoch line while run.json has none');
    assert.deepEqual(run.warnings, [`${path.join(dir, 'metrics.jsonl')}: line 3 is cut short (the run was probably stopped mid-write); read the lines before it`]);
  });

  test('a run whose process lives is running, and its last line may be mid-write without a warning', () => {
    const dir = writeRun('live', { 'run.json': record('running', process.pid), 'metrics.jsonl': `${step(1)}\n{"kind":"st` });
    const run = readRun(dir);
    assert.equal(run.status, 'running');
    assert.deepEqual(run.warnings, []);
    assert.ok(run.durationSeconds! > 0);
  });

  test('a folder from before run.json is read from config.json and metrics.jsonl', () => {
    const config = { seed: 3, dataset: { type: 'mnist', validation: 'test' }, model: { layers: [{ type: 'dense', units: 10, activation: 'softmax' }] }, compile: { optimizer: { type: 'sgd', lr: 0.1 }, loss: 'sparse_categorical_crossentropy' }, fit: { epochs: 2, batchSize: 64 } };
    const dir = writeRun('mlp-2024-05-06T07-08-09-010Z', {
      'config.json': config,
      'metrics.jsonl': '{"epoch":1,"seconds":2,"loss":0.5,"val_loss":0.4,"val_accuracy":0.9}\n{"epoch":2,"seconds":4,"loss":0.3,"val_loss":0.35,"val_accuracy":0.92}\n',
      'model/model.json': '{}',
    });
    const run = readRun(dir);
    assert.equal(run.record, null);
    assert.equal(run.id, 'mlp-2024-05-06T07-08-09-010Z');
    assert.equal(run.name, 'mlp');
    assert.equal(run.started, '2024-05-06T07:08:09.010Z');
    assert.equal(run.status, 'finished', 'it saved its model');
    assert.deepEqual(run.hyperparameters, { optimizer: 'sgd', learning_rate: 0.1, batch_size: 64, epochs: 2, seed: 3, loss: 'sparse_categorical_crossentropy', layers: 'dense(10,softmax)', dataset: 'mnist', validation: 'test' });
    assert.equal(run.summary.val_accuracy, 0.92);
    assert.equal(run.summary.epochs, 2);
    assert.equal(run.summary.median_epoch_seconds, 3);
    assert.equal(run.durationSeconds, 6, 'the epochs\' seconds');
    fs.rmSync(path.join(dir, 'model'), { recursive: true });
    assert.equal(readRun(dir).status, 'stopped', 'no model: it never finished');
  });

  test('listRuns: run folders only, newest first; a missing folder holds none; an unreadable run.json is a warning', () => {
    const runs = path.join(tmp, 'list');
    const make = (name: string, started: string) => {
      fs.mkdirSync(path.join(runs, name), { recursive: true });
      fs.writeFileSync(path.join(runs, name, 'run.json'), JSON.stringify(record('finished', 1, { id: name, started, ended: started })));
    };
    make('older', '2025-01-01T00:00:00.000Z');
    make('newer', '2025-02-01T00:00:00.000Z');
    fs.mkdirSync(path.join(runs, 'not-a-run'));
    fs.writeFileSync(path.join(runs, 'notes.txt'), 'hello');
    fs.mkdirSync(path.join(runs, 'broken'));
    fs.writeFileSync(path.join(runs, 'broken', 'run.json'), '{"status": "fini');
    fs.writeFileSync(path.join(runs, 'broken', 'config.json'), '{}');
    const { runs: found, warnings } = listRuns(runs);
    // (broken's start is its config.json's time: now, the newest)
    assert.deepEqual(found.map((r) => r.id), ['broken', 'newer', 'older']);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /broken.run\.json: not valid JSON/);
    assert.deepEqual(listRuns(path.join(tmp, 'no-such-folder')), { runs: [], warnings: [] });
    assert.throws(() => readRun(path.join(runs, 'not-a-run')), /not a run folder \(no run\.json, config\.json or metrics\.jsonl\)/);
  });
});

describe('RunWriter', () => {
  test('starts running with this pid, finishes with a status and figures, and a resume keeps id and start', () => {
    const dir = path.join(tmp, 'writer');
    const w = new RunWriter(dir, { id: 'w', name: 'cfg', hyperparameters: { epochs: 2 } });
    let r = JSON.parse(fs.readFileSync(path.join(dir, 'run.json'), 'utf8'));
    assert.equal(r.status, 'running');
    assert.equal(r.pid, process.pid);
    assert.equal(r.ended, null);
    assert.equal(readRun(dir).status, 'running');
    w.appendMetrics({ kind: 'step', step: 1, epoch: 1, loss: 2, time: w.elapsed() });
    fs.appendFileSync(w.metricsFile, '{"kind":"step","st'); // a kill mid-write
    w.finish('failed', null, 'NaN guard: ...');
    r = JSON.parse(fs.readFileSync(path.join(dir, 'run.json'), 'utf8'));
    assert.equal(r.status, 'failed');
    assert.equal(r.error, 'NaN guard: ...');
    assert.ok(r.ended >= r.started);

    const resumed = new RunWriter(dir, { id: 'other', name: 'cfg', hyperparameters: { epochs: 2 } });
    resumed.appendMetrics({ kind: 'step', step: 2, epoch: 1, loss: 1, time: resumed.elapsed() });
    const again = JSON.parse(fs.readFileSync(path.join(dir, 'run.json'), 'utf8'));
    assert.equal(again.id, 'w');
    assert.equal(again.started, r.started);
    assert.equal(again.status, 'running');
    assert.equal(again.resumes.length, 1);
    // the cut line was ended, so the resumed run's first line reads whole
    const run = readRun(dir);
    assert.deepEqual(run.steps.map((s) => s.step), [1, 2]);
    assert.equal(run.warnings.length, 1);
    assert.match(run.warnings[0], /line 2 is not a step or epoch record \(not valid JSON\)/);
  });

  test('runId is the config name and the start time, and readers get the time back from it', () => {
    const id = runId('mnist-mlp', new Date('2025-06-07T08:09:10.123Z'));
    assert.equal(id, 'mnist-mlp-2025-06-07T08-09-10-123Z');
    const dir = writeRun(id, { 'metrics.jsonl': `${epoch(1)}\n` });
    assert.equal(readRun(dir).started, '2025-06-07T08:09:10.123Z');
    assert.equal(readRun(dir).name, 'mnist-mlp');
  });
});

describe('StepLogger', () => {
  test('records the mean batch loss every N global steps, continuing across epochs', async () => {
    const { x, y } = digitTensors(100, 5);
    lt.manualSeed(0);
    const model = new lt.Sequential([new lt.layers.Dense(8, { activation: 'relu', inputShape: [784] }), new lt.layers.Dense(10, { activation: 'softmax' })]);
    model.compile({ optimizer: 'adam', loss: 'sparse_categorical_crossentropy' });
    const records: { step: number; epoch: number; loss: number }[] = [];
    const losses: number[] = [];
    const spy = new (class extends lt.callbacks.Callback {
      override onBatchEnd(info: lt.callbacks.StepInfo): void {
        losses.push(info.loss);
      }
    })();
    await model.fit(x, y, { epochs: 2, batchSize: 10, verbose: 0, seed: 1, callbacks: [spy, new StepLogger((r) => records.push(r), { every: 4 })] });
    // 10 batches an epoch, 20 in all: lines at steps 4, 8, ..., 20
    assert.deepEqual(records.map((r) => [r.step, r.epoch]), [[4, 1], [8, 1], [12, 2], [16, 2], [20, 2]]);
    records.forEach((r, i) => {
      const window = losses.slice(i * 4, i * 4 + 4);
      assert.ok(Math.abs(r.loss - window.reduce((a, b) => a + b, 0) / 4) < 1e-12, `step ${r.step}`);
    });
    assert.equal(StepLogger.defaultEvery(1875), 38, 'an MNIST epoch at batch 32: about 50 lines');
    assert.equal(StepLogger.defaultEvery(8), 1);
    assert.equal(StepLogger.defaultEvery(0), 10, 'unknown length');
  });
});
