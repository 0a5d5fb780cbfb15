// The dashboard on a run that `lathe train` really wrote (an MNIST-format dataset of synthetic
// digits, in IDX files like the real ones): its confusion matrix renders with the counts of
// evaluation.json, and the gallery shows its misclassified digits beside their explanations.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { startDashboardServer, type DashboardServer } from '../../src/dashboard/server.js';
import { LATHE_BIN } from '../cli-process.js';
import { mlpConfig, writeSyntheticMnist } from '../train/synthetic-mnist.js';
import { launchChromium, skipWithoutChromium } from './chromium.js';

describe('dashboard on a run lathe train wrote', { skip: skipWithoutChromium }, () => {
  let tmp: string;
  let data: string;
  let server: DashboardServer;
  let browser: Browser;

  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lathe-ui-real-'));
    data = writeSyntheticMnist(300, 200);
    const config = path.join(tmp, 'digits.json');
    // One short epoch of a small MLP: it learns the digits partly, so the matrix has mistakes.
    fs.writeFileSync(config, JSON.stringify({ ...mlpConfig({ hidden: 8, epochs: 1, lr: 0.003 }), fit: { epochs: 1, batchSize: 10 } }));
    const { LATHE_DATA: _, ...env } = process.env;
    const r = spawnSync(process.execPath, [LATHE_BIN, 'train', config, '--data', data, '--out', path.join(tmp, 'runs', 'digits'), '--json'], { encoding: 'utf8', env });
    assert.equal(r.status, 0, r.stderr);
    server = await startDashboardServer({ runsDir: path.join(tmp, 'runs'), host: '127.0.0.1', port: 0 });
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await server?.close();
    for (const dir of [tmp, data]) if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  test('the confusion matrix shows evaluation.json\'s counts; the gallery its mistakes with explanations', async () => {
    const evaluation = JSON.parse(fs.readFileSync(path.join(tmp, 'runs', 'digits', 'evaluation.json'), 'utf8'));
    const page = await browser.newPage();
    await page.goto(`${server.url}#/run/digits`);
    const cells = page.locator('#confusion-matrix td.cell');
    await cells.first().waitFor();
    const counts = await cells.evaluateAll((tds) => tds.map((td) => Number(td.getAttribute('data-count'))));
    assert.deepEqual(counts, evaluation.confusion.matrix.flat());
    assert.equal(counts.reduce((a: number, b: number) => a + b, 0), 200, 'every test example counted once');
    const mistakes = JSON.parse(fs.readFileSync(path.join(tmp, 'runs', 'digits', 'misclassified.json'), 'utf8'));
    assert.ok(mistakes.length > 0, 'the short run makes mistakes');
    const figures = page.locator('#misclassified-gallery figure');
    await figures.first().waitFor();
    assert.equal(await figures.count(), mistakes.length);
    // The first figures' digit and explanation load (the gallery loads images lazily, as they scroll in).
    const first = Math.min(4, mistakes.length);
    await page.waitForFunction((n) => {
      const figs = [...document.querySelectorAll('#misclassified-gallery figure')].slice(0, n);
      return figs.every((f) => [...f.querySelectorAll('img')].length === 2 && [...f.querySelectorAll('img')].every((i) => (i as HTMLImageElement).complete && (i as HTMLImageElement).naturalWidth > 0));
    }, first, { timeout: 10_000 });
    await page.close();
  });
});
