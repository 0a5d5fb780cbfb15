// `lathe train` on a language model config as a user runs it (bin/lathe.js, built into dist/): a
// one-layer GPT on a small Shakespeare-formatted text trains 30 steps, prints a JSON line per
// evaluation and the done line, writes the run folder (metrics, samples, checkpoint, the model
// with its tokenizer, and the --save-to copy); `lathe generate` reads the model; --resume goes on
// to more steps; bad configs fail before a run folder exists, naming the field.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { shakespeareLikeText, tinyLanguageModelConfig } from '../train/lm-fixture.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const bin = path.join(root, 'bin', 'lathe.js');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lathe-train-gpt-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));
fs.writeFileSync(path.join(tmp, 'text.txt'), shakespeareLikeText());

function lathe(args: string[]) {
  const { LATHE_DATA: _, ...env } = process.env;
  return spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env });
}

function writeConfig(name: string, config: unknown): string {
  const file = path.join(tmp, name);
  fs.writeFileSync(file, JSON.stringify(config));
  return file;
}

const jsonLines = (s: string) => s.trim().split('\n').map((l) => JSON.parse(l));
const readLines = (file: string) => jsonLines(fs.readFileSync(file, 'utf8'));

describe('lathe train on a gpt config', () => {
  // a relative path, found through --data
  const configFile = writeConfig('tiny-gpt.json', tinyLanguageModelConfig('text.txt'));
  const run = path.join(tmp, 'run');
  const savedTo = path.join(tmp, 'repo', 'tiny', '1');
  let trained: ReturnType<typeof lathe>;

  before(() => {
    trained = lathe(['train', configFile, '--data', tmp, '--out', run, '--save-to', savedTo, '--json']);
  });

  test('prints one JSON line per evaluation, then the done line; the loss falls', () => {
    assert.equal(trained.status, 0, trained.stderr);
    assert.equal(trained.stderr, '');
    const lines = jsonLines(trained.stdout);
    assert.equal(lines.length, 4);
    assert.deepEqual(lines.slice(0, 3).map((l) => l.iteration), [10, 20, 30]);
    for (const l of lines.slice(0, 3)) assert.deepEqual(Object.keys(l), ['iteration', 'train_loss', 'val_loss', 'lr', 'ms_per_iter', 'time']);
    assert.ok(lines[2].val_loss < lines[0].val_loss - 0.2, `val loss ${lines[0].val_loss} -> ${lines[2].val_loss}`);
    const done = lines[3];
    assert.deepEqual(Object.keys(done), ['done', 'iterations', 'ms_per_iter', 'val_loss', 'model_dir']);
    assert.equal(done.done, true);
    assert.equal(done.iterations, 30);
    assert.ok(done.ms_per_iter > 0);
    assert.equal(done.val_loss, lines[2].val_loss);
    assert.equal(done.model_dir, path.join(run, 'model'));
  });

  test('writes the run folder: run.json, step and eval metrics, samples, the checkpoint, the model with its tokenizer', () => {
    const record = JSON.parse(fs.readFileSync(path.join(run, 'run.json'), 'utf8'));
    assert.equal(record.status, 'finished');
    assert.equal(record.summary.iterations, 30);
    assert.equal(record.hyperparameters.iterations, 30);
    assert.equal(record.hyperparameters.learning_rate, 1e-2); // the warmup's peak
    assert.equal(record.hyperparameters.tokenizer, 'char');
    const metrics = readLines(path.join(run, 'metrics.jsonl'));
    assert.deepEqual(metrics.filter((m) => m.kind === 'step').map((m) => m.step), [10, 20, 30]);
    const evals = metrics.filter((m) => m.kind === 'eval');
    assert.deepEqual(evals.map((m) => m.step), [10, 20, 30]);
    assert.equal(record.summary.val_loss, evals[2].val_loss);
    const samples = readLines(path.join(run, 'samples.jsonl'));
    assert.deepEqual(samples.map((s) => s.step), [10, 20, 30]);
    for (const s of samples) {
      assert.equal(s.prompt, '\n');
      assert.equal([...s.text].length, 40);
    }
    assert.ok(fs.existsSync(path.join(run, 'checkpoints', 'last.safetensors')));
    for (const dir of [path.join(run, 'model'), savedTo]) {
      assert.deepEqual(fs.readdirSync(dir).sort(), ['model.json', 'tokenizer.json', 'weights.safetensors']);
      assert.equal(JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8')).architecture.type, 'gpt');
    }
  });

  test('lathe generate samples from the saved model', () => {
    const r = lathe(['generate', path.join(run, 'model'), '--prompt', 'ME', '--max-tokens', '25', '--seed', '3', '--json']);
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.tokens, 25);
    assert.equal([...out.text].length, 25);
  });

  test('lathe runs counts a language model\'s progress in iterations, beside its validation loss', () => {
    const r = lathe(['runs', '--dir', path.dirname(run)]);
    assert.equal(r.status, 0, r.stderr);
    const row = r.stdout.split('\n').find((l) => l.startsWith(path.basename(run)));
    assert.match(row ?? '', /finished\s+\S+ \S+\s+30 it\s+\d\.\d{4}\s+\d\.\d{4}\s/);
  });

  test('--resume goes on to --iterations from the checkpoint; without it the folder is refused', () => {
    const again = lathe(['train', configFile, '--data', tmp, '--out', run, '--json']);
    assert.equal(again.status, 1);
    assert.match(again.stderr, /lathe: train: .*already holds a run; pass --resume/);
    const resumed = lathe(['train', configFile, '--data', tmp, '--out', run, '--json', '--resume', '--iterations', '40']);
    assert.equal(resumed.status, 0, resumed.stderr);
    const lines = jsonLines(resumed.stdout);
    assert.deepEqual(lines.map((l) => l.iteration ?? l.iterations), [40, 40]);
    assert.equal(lines[1].done, true);
    const record = JSON.parse(fs.readFileSync(path.join(run, 'run.json'), 'utf8'));
    assert.equal(record.resumes.length, 1);
    assert.equal(record.summary.iterations, 40);
    assert.deepEqual(readLines(path.join(run, 'metrics.jsonl')).filter((m) => m.kind === 'eval').map((m) => m.step), [10, 20, 30, 40]);
  });
});

describe('lathe train: a bad language model config fails before training, naming the field', () => {
  const cases: [string, (c: Record<string, any>) => void, RegExp][] = [
    ['an unknown fit field', (c) => (c.fit.evalEvery = 5), /lathe: config\.fit: unknown field "evalEvery"/],
    ['heads that do not divide the embedding', (c) => (c.model.nHead = 3), /lathe: config\.model: nEmbd 16 must be divisible by nHead 3/],
    ['a bad optimizer field', (c) => (c.compile.optimizer.beta1 = 2), /lathe: config\.compile\.optimizer \(adamw\): "beta1" must be a number in \[0, 1\)/],
    ['a missing file', (c) => (c.dataset.path = 'missing.txt'), /lathe: config\.dataset: "path" "missing\.txt": .*missing\.txt not found/],
  ];
  for (const [name, edit, pattern] of cases) {
    test(name, () => {
      const config = tinyLanguageModelConfig('text.txt');
      edit(config);
      const out = path.join(tmp, `bad-${name.replace(/\W+/g, '-')}`);
      const r = lathe(['train', writeConfig('bad.json', config), '--data', tmp, '--out', out, '--json']);
      assert.equal(r.status, 1);
      assert.match(r.stderr, pattern);
      assert.equal(r.stdout, '');
      assert.ok(!fs.existsSync(out), 'no run folder for a config that fails its checks');
    });
  }

  test('--epochs is refused for an iteration config', () => {
    const r = lathe(['train', writeConfig('ok.json', tinyLanguageModelConfig('text.txt')), '--data', tmp, '--epochs', '2']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /lathe: train: --epochs: a language model config counts iterations; pass --iterations N/);
  });
});
