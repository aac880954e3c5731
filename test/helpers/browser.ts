// The dashboard in headless Chromium: Debian's chromium, launched through playwright-core, and its login form.
import type { TestContext } from 'node:test';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { Db } from '../../src/store/db.js';
import { buildServer, type ServerOptions } from '../../src/server/app.js';
import { repoRoot, testOutput } from './paths.js';

export const CHROMIUM = '/usr/bin/chromium';

/** True when Debian's chromium is installed; otherwise skips the test, or fails it under CI=true. */
export function haveChromium(t: TestContext): boolean {
  if (existsSync(CHROMIUM)) return true;
  if (process.env.CI === 'true')
    throw new Error(`${CHROMIUM} missing: scripts/install-deps.sh installs Debian's chromium`);
  t.skip('chromium not installed');
  return false;
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
}

/** A page at the screenshots' size whose uncaught errors are collected in `errors` (a test asserts none). */
export async function watchedPage(browser: Browser, errors: string[]): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  page.on('pageerror', (e) => errors.push(e.message));
  return page;
}

/** Logs in through the dashboard's form at `url` and waits until the overview shows. */
export async function logIn(
  page: Page,
  url: string,
  user: string,
  password: string,
): Promise<void> {
  await page.goto(url);
  await page.fill('input[name=user]', user);
  await page.fill('input[name=password]', password);
  await page.click('button[type=submit]');
  await page.getByTestId('health').waitFor();
}

/** Where the dashboard tests leave their screenshots (created). */
export function screenshotDir(): string {
  const dir = path.join(testOutput, 'dashboard');
  mkdirSync(dir, { recursive: true });
  return dir;
}

export interface Dashboard {
  url: string;
  page: Page;
  /** Uncaught errors of the page (a test asserts none). */
  errors: string[];
  /** Closes the browser, the server and the store, and removes `dir`. */
  close(): Promise<void>;
}

/** The built dashboard serving `db` on a loopback port, and one watched page in chromium. */
export async function openDashboard(
  db: Db,
  dir: string,
  more: Partial<ServerOptions> = {},
): Promise<Dashboard> {
  const app = await buildServer({ ...more, db, webRoot: path.join(repoRoot, 'dist/web') });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  const browser = await launchChromium();
  const errors: string[] = [];
  const page = await watchedPage(browser, errors);
  return {
    url,
    page,
    errors,
    async close() {
      await browser.close();
      await app.close();
      db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
