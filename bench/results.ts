import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const sharedPcaps = path.resolve(root, '../shared/pcaps');

/** Replace the section with this heading in bench/RESULTS.md, keeping the others. */
export function writeSection(name: string, body: string): void {
  const file = path.join(root, 'bench/RESULTS.md');
  const head =
    '# Benchmark results\n\nRecorded by `npm run bench`. Each section is rewritten by its benchmark; machines are noisy, so read ratios and medians.\n';
  let text = existsSync(file) ? readFileSync(file, 'utf8') : head;
  const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const re = new RegExp(`## ${escaped} \\([^)]*\\)[\\s\\S]*?(?=\\n## |$)`);
  text = re.test(text)
    ? text.replace(re, body.trimEnd() + '\n')
    : text.trimEnd() + '\n\n' + body.trimEnd() + '\n';
  writeFileSync(file, text);
}

export function machine(): string {
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  let tshark = 'tshark not found';
  try {
    tshark = execFileSync('tshark', ['--version']).toString().split('\n')[0]!;
  } catch {
    /* reported as missing */
  }
  return `${cpu}, ${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${tshark}`;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

export function today(): string {
  return new Date().toISOString().slice(0, 10);
}
