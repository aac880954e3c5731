import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

/** Print an HTML file to PDF with headless Chromium (the browser the project already uses). */
export function printToPdf(html: string, pdf: string): void {
  const chromium = process.env.WEIR_CHROMIUM ?? '/usr/bin/chromium';
  if (!existsSync(chromium))
    throw new Error(
      `${chromium} not found: install chromium (scripts/install-deps.sh) or set WEIR_CHROMIUM`,
    );
  const r = spawnSync(
    chromium,
    [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--no-pdf-header-footer',
      `--print-to-pdf=${path.resolve(pdf)}`,
      pathToFileURL(path.resolve(html)).href,
    ],
    { encoding: 'utf8', timeout: 60_000 },
  );
  if (r.status !== 0 || !existsSync(pdf) || statSync(pdf).size === 0)
    throw new Error(
      `chromium could not print ${html} to ${pdf}: ${(r.stderr || r.error?.message || '').trim().split('\n').pop()}`,
    );
}
