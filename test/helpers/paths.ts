import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The project root: the nearest folder above this file that holds package.json (works from dist/ too). */
export const repoRoot = (() => {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error('package.json not found above test helpers');
    dir = up;
  }
  return dir;
})();

export const sharedPcaps = path.resolve(repoRoot, '../shared/pcaps');

/** The capture files (pcap, pcapng, cap) anywhere below `dir`, in a stable order. */
export function capturesUnder(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const n of readdirSync(d).sort()) {
      const p = path.join(d, n);
      if (statSync(p).isDirectory()) walk(p);
      else if (/\.(pcap|pcapng|cap)$/i.test(n)) out.push(p);
    }
  };
  walk(dir);
  return out;
}

/**
 * Capture files under ../shared/pcaps. Missing captures fail the run in CI (they must be there) and skip
 * elsewhere; returns null when the caller should skip.
 */
export function sharedCaptures(): string[] | null {
  if (!existsSync(sharedPcaps)) {
    if (process.env.CI === 'true') throw new Error(`shared captures missing: ${sharedPcaps}`);
    return null;
  }
  const out = capturesUnder(sharedPcaps);
  if (out.length === 0 && process.env.CI === 'true')
    throw new Error(`no captures in ${sharedPcaps}`);
  return out;
}

/** One shared capture by relative path; throws under CI when missing, null otherwise. */
export function sharedCapture(rel: string): string | null {
  const p = path.join(sharedPcaps, rel);
  if (existsSync(p)) return p;
  if (process.env.CI === 'true') throw new Error(`shared capture missing: ${p}`);
  return null;
}

/** The project's own fixture captures. */
export function fixtureCaptures(): string[] {
  const d = path.join(repoRoot, 'fixtures');
  if (!existsSync(d)) return [];
  return readdirSync(d)
    .filter((n) => /\.(pcap|pcapng)$/.test(n))
    .sort()
    .map((n) => path.join(d, n));
}

export const testOutput = path.join(repoRoot, 'test-output');

/** The CISA CSAF corpus (../shared/advisories); throws under CI when missing, null otherwise. */
export function sharedAdvisories(): string | null {
  const p = path.resolve(repoRoot, '../shared/advisories/cisa-csaf-ot-2017-2024.tar.gz');
  if (existsSync(p)) return p;
  if (process.env.CI === 'true') throw new Error(`shared advisories missing: ${p}`);
  return null;
}
