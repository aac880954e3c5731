// Regenerates data/oui.tsv.gz (MAC prefix → short vendor name) from Debian's ieee-data registry files.
// Usage: node scripts/gen-oui.mjs [/usr/share/ieee-data]
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import path from 'node:path';

const dir = process.argv[2] ?? '/usr/share/ieee-data';
const rows = new Map();
// MA-L (24-bit) blocks: the registry that names nearly every industrial NIC vendor.
for (const [file, bits] of [['oui.txt', 24]]) {
  const p = path.join(dir, file);
  if (!existsSync(p)) continue;
  for (const line of readFileSync(p, 'utf8').split('\n')) {
    const m = /^\s*([0-9A-F]{6,12})(?:-[0-9A-F]+)?\s+\(base 16\)\s+(.+?)\s*$/.exec(line);
    if (!m || m[1].length < bits / 4) continue;
    rows.set(m[1].slice(0, bits / 4), m[2].replace(/\t/g, ' '));
  }
}
const text =
  [...rows]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([k, v]) => `${k}\t${v}`)
    .join('\n') + '\n';
const out = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../data/oui.tsv.gz');
writeFileSync(out, gzipSync(text, { level: 9 }));
console.log(`${rows.size} prefixes → ${out}`);
