// Debian's Chromium driven by playwright-core, for the dashboard's browser tests. Nothing is
// downloaded: the suites skip when /usr/bin/chromium is absent (.ci/run installs it).
import * as fs from 'node:fs';
import type { Browser } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

/** A describe() option: false, or why the browser tests skip. */
export const skipWithoutChromium: false | string = fs.existsSync(CHROMIUM) ? false : `${CHROMIUM} is absent (apt-get install chromium; .ci/run installs it)`;

export async function launchChromium(): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // Playwright gives each launch a fresh temporary profile (--user-data-dir) of its own.
    // Without the background-networking flags Chromium calls out at start, which this closed network refuses.
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}
