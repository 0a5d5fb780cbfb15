// The browser example (examples/webgpu-browser/): its esbuild bundle, served on localhost (WebGPU
// needs a secure context), trains the brief's MLP in headless Chromium on WebGPU. Headless
// Chromium on a machine without a GPU offers SwiftShader's adapter once --enable-unsafe-webgpu
// is given; the suite skips, saying why, without Chromium, and the test skips without an adapter.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { CHROMIUM, skipWithoutChromium } from './chromium.js';

const ROOT = path.resolve(import.meta.dirname, '..', '..', '..');

/** What the page's window.latheResult resolves to (examples/webgpu-browser/main.ts). */
interface PageResult {
  adapter: string;
  backend: string;
  trainExamples: number;
  epochs: number;
  msPerStep: number;
  history: Record<string, number[]>;
  testAccuracy: number;
}

/** Serves dir's files on 127.0.0.1 (a localhost origin is a secure context, which navigator.gpu needs). */
async function serve(dir: string): Promise<http.Server> {
  const types: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript' };
  const server = http.createServer((req, res) => {
    const file = path.join(dir, path.normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)).replace(/^[/\\]+/, ''));
    if (!file.startsWith(dir) || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': types[path.extname(file)] ?? 'application/octet-stream' }).end(fs.readFileSync(file));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

describe('the WebGPU browser example', { skip: skipWithoutChromium }, () => {
  let dir: string;
  let server: http.Server;
  let browser: Browser;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lathe-webgpu-page-'));
    const { buildPage } = (await import(path.join(ROOT, 'examples', 'webgpu-browser', 'build.mjs'))) as { buildPage(out: string): Promise<string> };
    await buildPage(dir);
    server = await serve(dir);
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      // Not --disable-gpu (it turns WebGPU off); the rest as test/ui/chromium.ts, for a closed network.
      args: ['--no-sandbox', '--enable-unsafe-webgpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  });

  after(async () => {
    await browser?.close();
    server?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  test('trains the brief\'s MLP on WebGPU in headless Chromium', async (t) => {
    const page = await browser.newPage();
    const lines: string[] = [];
    page.on('console', (m) => lines.push(m.text()));
    const port = (server.address() as AddressInfo).port;
    await page.goto(`http://localhost:${port}/index.html?train=2000&test=500&epochs=1`);
    const hasAdapter = await page.evaluate(async () => {
      const gpu = (navigator as unknown as { gpu?: { requestAdapter(): Promise<unknown> } }).gpu;
      return Boolean(gpu && (await gpu.requestAdapter()));
    });
    if (!hasAdapter) {
      t.skip('Chromium offers no WebGPU adapter here (navigator.gpu.requestAdapter() gave null)');
      return;
    }
    const result = await page.evaluate(() => (globalThis as unknown as { latheResult: Promise<PageResult> }).latheResult);
    t.diagnostic(`adapter "${result.adapter}": ${result.msPerStep.toFixed(1)} ms/step, test accuracy ${result.testAccuracy}`);
    assert.equal(result.backend, 'webgpu', 'the model trained on the webgpu backend');
    assert.equal(result.trainExamples, 2000);
    assert.equal(result.history.loss.length, 1);
    assert.ok(result.history.val_accuracy[0] >= 0.9, `val accuracy ${result.history.val_accuracy}`);
    assert.ok(result.testAccuracy >= 0.9, `test accuracy ${result.testAccuracy}`);
    assert.ok(lines.some((l) => l.startsWith('WebGPU adapter:')), `the page logged its adapter: ${lines.join(' | ')}`);
    await page.close();
  });
});
