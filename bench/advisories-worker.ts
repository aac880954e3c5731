// One fresh process per measurement: import the corpus into a new store, or build the index and match.
// Prints one JSON line: seconds and the process's peak resident memory (maxRSS).
import { rmSync } from 'node:fs';
import { openStore } from '../src/store/db.js';
import { importFeed } from '../src/assess/advisories/import.js';
import { loadAdvisories } from '../src/store/advisory-store.js';
import { AdvisoryIndex, type AssetIdentity } from '../src/assess/advisories/match.js';
import { syntheticIdentities } from './advisory-assets.js';

const [mode, corpusOrDb, dbPath, count] = process.argv.slice(2);

async function main(): Promise<void> {
  if (mode === 'import') {
    rmSync(dbPath!, { force: true });
    const db = openStore(dbPath!);
    const t0 = process.hrtime.bigint();
    const s = await importFeed(db, corpusOrDb!);
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    db.close();
    out({ seconds, added: s.added, rejected: s.rejected.length });
    return;
  }
  if (mode === 'match') {
    const db = openStore(corpusOrDb!);
    const t0 = process.hrtime.bigint();
    const idx = new AdvisoryIndex(loadAdvisories(db));
    const indexSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const ids: AssetIdentity[] = syntheticIdentities(db, Number(count));
    const t1 = process.hrtime.bigint();
    let matched = 0,
      findings = 0;
    for (const i of ids) {
      const ms = idx.match(i);
      if (ms.length > 0) matched++;
      findings += ms.length;
    }
    const seconds = Number(process.hrtime.bigint() - t1) / 1e9;
    db.close();
    out({
      indexSeconds,
      seconds,
      assets: ids.length,
      distinct: new Set(ids.map((i) => JSON.stringify(i))).size,
      matched,
      findings,
    });
  }
}

function out(o: Record<string, unknown>): void {
  process.stdout.write(
    JSON.stringify({ ...o, maxRssMiB: process.resourceUsage().maxRSS / 1024 }) + '\n',
  );
}

await main();
