// The serving view of `lathe serve --ui` in headless Chromium (issue 8, acceptance 1: "the
// served-model view shows a model as ready"): the model server, not a stub, serves the page, its
// runs and /api/serving; the test goes from the runs list to the Serving view and sees the MLP
// ready, with the request rate its predicts made. Screenshots as in dashboard-browser.test.ts.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { launchChromium, skipWithoutChromium } from './chromium.js';
import type { Browser } from 'playwright-core';
import { writeFileAtomic } from '../../src/atomic-write.js';
import { type RunningServer, startServer } from '../../src/serve/http/server.js';
import { buildRepository, type Fixture, pixels } from '../serve/repository-fixture.js';
import { RUN_IDS, writeFixtureRuns } from './fixtures.js';

const ROOT = path.resolve(import.meta.dirname, '..', '..', '..');
const ASSETS = path.join(ROOT, 'ui', 'dist', 'index.html');
const skip = skipWithoutChromium;

describe('lathe serve --ui in Chromium', { skip }, () => {
  let fx: Fixture;
  let tmp: string;
  let srv: RunningServer;
  let browser: Browser;

  before(async () => {
    assert.ok(fs.existsSync(ASSETS), `${ASSETS} is missing: npm ci builds it, or run npm run build:ui`);
    fx = await buildRepository();
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lathe-serve-ui-'));
    srv = await startServer({ repository: fx.root, port: 0, ui: { runsDir: writeFixtureRuns(path.join(tmp, 'runs')) } });
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await srv?.close();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
    if (fx) fs.rmSync(fx.root, { recursive: true, force: true });
  });

  test('from the runs list to the Serving view: the MLP is ready, with its request rate', async () => {
    const body = JSON.stringify({ instances: pixels(2, 9).toArray() });
    for (let i = 0; i < 10; i++) assert.equal((await fetch(`${srv.url}/v1/models/mlp:predict`, { method: 'POST', body })).status, 200);
    const page = await browser.newPage({ viewport: { width: 1280, height: 720 }, deviceScaleFactor: 1 });
    const errors: string[] = [];
    const foreign: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
    page.on('request', (r) => { if (!r.url().startsWith(srv.url) && !r.url().startsWith('data:')) foreign.push(r.url()); });
    await page.goto(`${srv.url}/ui/`);
    await page.locator(`tr[data-run-id="${RUN_IDS.mlp}"]`).waitFor(); // the runs pages work from the model server too
    const nav = page.locator('[data-nav="serving"]');
    await nav.waitFor({ state: 'visible' });
    await nav.click();
    const row = page.locator('#serving-table tr[data-model="mlp"][data-version="2"]');
    await row.waitFor();
    assert.equal(await row.locator('.badge').innerText(), 'ready');
    assert.match(await row.innerText(), /canary/);
    const failed = page.locator('#serving-table tr[data-model="broken"][data-version="1"] .badge');
    assert.deepEqual([await failed.innerText(), await failed.getAttribute('class')], ['end', 'badge state-failed']);
    // Requests/s is the fourth column: the ten predicts above, over a window of at most 10 s.
    const rate = Number(await row.locator('td').nth(3).innerText());
    assert.ok(rate >= 1, `requests/s ${rate}`);
    assert.match(await row.locator('td').nth(4).innerText(), /^\d+\.\d\d ms$/);
    const shots = process.env.LATHE_UPDATE_SCREENSHOTS === '1' ? path.join(ROOT, 'docs', 'screenshots') : tmp;
    writeFileAtomic(path.join(shots, 'serving-model-server.png'), await page.screenshot());
    assert.deepEqual(errors, []);
    assert.deepEqual(foreign, []);
    await page.close();
  });
});
