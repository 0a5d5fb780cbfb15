// The dashboard in headless Chromium (issue 8, acceptance 1 and 2): the runs list, a loss chart
// that gains points while its run trains, the confusion matrix and gallery of a finished MNIST
// run, several runs overlaid, and the served-models panel. One browser for all of them.
// Screenshots go to docs/screenshots/ with LATHE_UPDATE_SCREENSHOTS=1, else to a temp folder.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { launchChromium, skipWithoutChromium } from './chromium.js';
import type { Browser, Page } from 'playwright-core';
import { writeFileAtomic } from '../../src/atomic-write.js';
import { startDashboardServer, type DashboardServer } from '../../src/dashboard/server.js';
import { LIVE_CURVE, metricLines, MISCLASSIFIED, mnistConfusion, RUN_IDS, writeFixtureRuns } from './fixtures.js';

const ROOT = path.resolve(import.meta.dirname, '..', '..', '..');
const ASSETS = path.join(ROOT, 'ui', 'dist', 'index.html');
const skip = skipWithoutChromium;

describe('dashboard in Chromium', { skip }, () => {
  let tmp: string;
  let runsDir: string;
  let server: DashboardServer;
  let browser: Browser;
  let shots: string;
  const foreignRequests: string[] = [];
  const pageErrors: string[] = [];

  before(async () => {
    assert.ok(fs.existsSync(ASSETS), `${ASSETS} is missing: npm ci builds it, or run npm run build:ui`);
    shots = process.env.LATHE_UPDATE_SCREENSHOTS === '1' ? path.join(ROOT, 'docs', 'screenshots') : fs.mkdtempSync(path.join(os.tmpdir(), 'lathe-ui-shots-'));
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lathe-ui-browser-'));
    runsDir = writeFixtureRuns(path.join(tmp, 'runs'));
    server = await startDashboardServer({
      runsDir,
      host: '127.0.0.1',
      port: 0,
      pollMs: 200,
      // A stub of what `lathe serve --ui` will supply.
      serving: () => ({
        models: [
          { name: 'mnist', versions: [{ version: '2', state: 'AVAILABLE', labels: ['stable'] }, { version: '1', state: 'END' }], requestRate: 41.5, latencyMs: { p50: 1.84, p99: 6.2 }, meanBatchSize: 3.4 },
          { name: 'tabular', versions: [{ version: '1', state: 'LOADING' }], requestRate: 0, latencyMs: { p50: null, p99: null }, meanBatchSize: null },
        ],
      }),
    });
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await server?.close();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  async function open(hash: string): Promise<Page> {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 }, deviceScaleFactor: 1 });
    const origin = new URL(server.url).origin;
    page.on('request', (r) => { if (!r.url().startsWith(origin) && !r.url().startsWith('data:')) foreignRequests.push(r.url()); });
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('console', (m) => { if (m.type() === 'error') pageErrors.push(m.text()); });
    await page.goto(`${server.url}${hash}`);
    return page;
  }

  const shot = async (target: Page | ReturnType<Page['locator']>, name: string, fullPage = false) => {
    const png = 'goto' in target ? await target.screenshot({ fullPage }) : await target.screenshot();
    writeFileAtomic(path.join(shots, name), png);
  };

  const points = (page: Page, selector: string) => page.locator(selector).evaluate((el) => Number((el as HTMLElement).dataset.points ?? 0));

  test('the runs list renders every run and filters them', async () => {
    const page = await open('#/');
    await page.locator('tr[data-run-id]').nth(4).waitFor();
    assert.equal(await page.locator('tr[data-run-id]').count(), 5);
    assert.match(await page.locator(`tr[data-run-id="${RUN_IDS.failed}"] .badge`).innerText(), /failed/);
    await shot(page, 'runs-list.png');
    await page.locator('#run-filter').fill('cnn');
    await page.waitForFunction(() => document.querySelectorAll('tr[data-run-id]').length === 1);
    assert.equal(await page.locator('tr[data-run-id]').getAttribute('data-run-id'), RUN_IDS.cnn);
    await page.locator('#run-filter').fill('');
    await page.locator('#status-filter').selectOption('running');
    await page.waitForFunction(() => document.querySelectorAll('tr[data-run-id]').length === 1);
    assert.equal(await page.locator('tr[data-run-id]').getAttribute('data-run-id'), RUN_IDS.live);
    await page.close();
  });

  test('the loss chart of a training run gains points without a reload', async () => {
    const page = await open(`#/run/${RUN_IDS.live}`);
    await page.waitForFunction(() => Number(document.querySelector<HTMLElement>('#loss-chart')?.dataset.points) > 0);
    const before = await points(page, '#loss-chart');
    const navigations: string[] = [];
    page.on('framenavigated', (f) => navigations.push(f.url()));
    for (let epoch = 2; epoch <= 3; epoch++) {
      const lines = metricLines(LIVE_CURVE, epoch, epoch);
      fs.appendFileSync(path.join(runsDir, RUN_IDS.live, 'metrics.jsonl'), `${lines.join('\n')}\n`);
      await page.waitForFunction(([n]) => Number(document.querySelector<HTMLElement>('#loss-chart')?.dataset.points) >= n, [before + (epoch - 1) * lines.length], { timeout: 10000 });
    }
    const afterPoints = await points(page, '#loss-chart');
    assert.ok(afterPoints > before, `points ${before} -> ${afterPoints}`);
    assert.deepEqual(navigations, [], 'no reload');
    assert.ok(await page.locator('#metric-chart').isVisible(), 'the accuracy chart shows once epochs come in');
    await page.close();
  });

  test('a finished MNIST run: charts with axes and legend, the confusion matrix, the gallery', async () => {
    const page = await open(`#/run/${RUN_IDS.mlp}`);
    await page.waitForFunction(() => Number(document.querySelector<HTMLElement>('#metric-chart')?.dataset.points) > 0);
    assert.equal(await page.locator('#loss-chart').getAttribute('data-axes'), 'step (batches) | loss');
    assert.equal(await page.locator('#metric-chart').getAttribute('data-axes'), 'epoch | accuracy (%)');
    const legend = await page.locator('#loss-chart .u-legend .u-label').allInnerTexts();
    assert.ok(legend.includes('validation loss (per epoch)') && legend.includes('train loss (per step)'), legend.join(' | '));
    assert.deepEqual(await page.locator('#hyperparameters th').allInnerTexts(), ['model.layers', 'optimizer', 'lr', 'batch_size', 'epochs', 'seed']);
    await shot(page, 'run-detail.png');

    const matrix = mnistConfusion();
    const cells = page.locator('#confusion-matrix td.cell');
    assert.equal(await cells.count(), 100);
    const counts = await cells.evaluateAll((tds) => tds.map((td) => Number(td.getAttribute('data-count'))));
    assert.deepEqual(counts, matrix.flat());
    assert.deepEqual(await page.locator('#confusion-matrix .col-label').allInnerTexts(), ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    assert.match(await page.locator('#confusion-matrix').innerText(), /predicted class[\s\S]*true class/i);
    await shot(page.locator('#confusion-matrix'), 'confusion-matrix.png');

    const figures = page.locator('#misclassified-gallery figure');
    assert.equal(await figures.count(), MISCLASSIFIED.length);
    await figures.last().scrollIntoViewIfNeeded();
    await page.waitForFunction(() => [...document.querySelectorAll<HTMLImageElement>('#misclassified-gallery img')].every((i) => i.complete && i.naturalWidth === 28));
    const first = await figures.first().innerText();
    assert.match(first, /true\s*4[\s\S]*predicted\s*9[\s\S]*97\.0%/);
    // each example shows its explanation heat map beside it, captioned with the class it explains
    const explanations = page.locator('#misclassified-gallery figure img.explanation');
    assert.equal(await explanations.count(), MISCLASSIFIED.length);
    assert.deepEqual(await explanations.evaluateAll((imgs) => imgs.map((i) => (i as HTMLImageElement).naturalWidth)), MISCLASSIFIED.map(() => 28));
    assert.match(await explanations.first().getAttribute('src') ?? '', new RegExp(`/api/runs/${RUN_IDS.mlp}/files/explanations/100\\.png$`));
    assert.deepEqual(await page.locator('#misclassified-gallery .explanation-caption').allInnerTexts(), MISCLASSIFIED.map(([, predicted]) => `why it said ${predicted}`));
    assert.match(await page.locator('#misclassified-gallery .gallery-legend').innerText(), /integrated gradients[\s\S]*red[\s\S]*blue/);
    await shot(page.locator('#misclassified-gallery'), 'misclassified.png');
    await page.close();
  });

  test('several runs overlaid on one chart', async () => {
    const page = await open('#/');
    await page.locator('tr[data-run-id]').nth(4).waitFor();
    for (const id of [RUN_IDS.mlp, RUN_IDS.cnn, RUN_IDS.legacy]) await page.locator(`tr[data-run-id="${id}"] input[type=checkbox]`).check();
    await page.locator('#compare-selected').click();
    await page.waitForFunction(() => Number(document.querySelector<HTMLElement>('#compare-chart')?.dataset.points) >= 5 + 6 + 3);
    const legend = await page.locator('#compare-chart .u-legend .u-label').allInnerTexts();
    assert.equal(legend.length, 4, `epoch + one series per run: ${legend.join(' | ')}`);
    await page.locator('#compare-metric').selectOption('val_accuracy');
    await page.waitForFunction(() => document.querySelector<HTMLElement>('#compare-chart')?.dataset.metric === 'val_accuracy' && Number(document.querySelector<HTMLElement>('#compare-chart')?.dataset.points) >= 14);
    assert.equal(await page.locator('#compare-chart').getAttribute('data-axes'), 'epoch | validation accuracy (%)');
    assert.ok((await page.locator("#compare-table tr.differs").count()) >= 2, 'differing hyperparameters are marked');
    await shot(page, 'compare.png', true);
    await page.close();
  });

  test('the served-models panel shows a model as ready', async () => {
    const page = await open('#/serving');
    const row = page.locator('#serving-table tr[data-model="mnist"][data-version="2"]');
    await row.waitFor();
    assert.equal(await row.locator('.badge').innerText(), 'ready');
    assert.match(await row.innerText(), /41\.5[\s\S]*1\.84 ms[\s\S]*6\.20 ms[\s\S]*3\.4/);
    assert.equal(await page.locator('#serving-table tr[data-model="tabular"] .badge').innerText(), 'loading');
    await shot(page, 'serving.png');
    await page.close();
  });

  test('the page fetched nothing from elsewhere and logged no errors', () => {
    assert.deepEqual(foreignRequests, []);
    assert.deepEqual(pageErrors, []);
  });
});
