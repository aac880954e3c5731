// The manager's site pages over many sites: flows, vulnerabilities and risk for one site and for all sites
// merged, over a synthetic manager.db (SITES sites × ASSETS assets × EDGES edges; one asset in ten a PLC with an
// identity the fixture advisories name, one edge in fifty a write). Also the patch plan alone, this build against
// BENCH_BEFORE's (the scan of every edge per vulnerable asset it replaced), on one site's inventory.
import os from 'node:os';
import path from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { openFleetDb } from '../src/fleet/fleet-db.js';
import {
  fleetFlows,
  fleetRisk,
  fleetVulnerabilities,
  siteInventory,
} from '../src/fleet/aggregate-pages.js';
import { openStore } from '../src/store/db.js';
import { importFeed } from '../src/assess/advisories/import.js';
import { advisoryIndexOf } from '../src/assess/vuln-report.js';
import { assessVulnerabilities } from '../src/assess/vulnerabilities.js';
import { assessRisk } from '../src/assess/risk.js';
import { exposurePaths } from '../src/assess/exposure.js';
import { planPatches } from '../src/assess/patch-plan.js';
import { machine, median, root, today, writeSection } from './results.js';

const ip = (i: number): string => `10.${(i >> 8) & 255}.${i & 255}.1`;

function fill(file: string, sites: number, assets: number, edges: number): void {
  const db = openFleetDb(file);
  const ins = db.prepare(
    'INSERT INTO fleet_items (site, type, key, version, deleted, doc, updated) VALUES (?, ?, ?, 1, 0, ?, 0)',
  );
  db.transaction(() => {
    for (let s = 0; s < sites; s++) {
      const site = `s${s}`;
      db.prepare(
        'INSERT INTO fleet_sites (site, last_seen, last_at, records) VALUES (?, 0, 0, 0)',
      ).run(site);
      for (let a = 0; a < assets; a++)
        ins.run(
          site,
          'asset',
          ip(a),
          JSON.stringify({
            ips: [ip(a)],
            role: a % 10 === 0 ? 'plc' : 'hmi',
            identity:
              a % 10 === 0
                ? { vendor: 'Siemens', product: 'CPU 315-2 PN/DP', firmware: 'V3.2.10' }
                : {},
          }),
        );
      for (let e = 0; e < edges; e++) {
        const [c, sv] = [ip(e % assets), ip((e * 7) % assets)];
        ins.run(
          site,
          'edge',
          `${c}>${sv}:${e}`,
          JSON.stringify({
            client: c,
            server: sv,
            protocol: 'modbus',
            transport: 'tcp',
            port: 502 + (e % 1000),
            packets: e,
            bytes: e * 60,
            functions:
              e % 50 === 0
                ? [{ protocol: 'modbus', func: 6, name: 'w', count: 1, writes: 1, exceptions: 0 }]
                : [],
          }),
        );
      }
    }
  })();
  db.close();
}

const time = (runs: number, f: () => unknown): number => {
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    f();
    ms.push(performance.now() - t);
  }
  return median(ms);
};

export async function recordSitePages(runs = 5): Promise<void> {
  const [sites, assets, edges] = [10, 1000, 5000];
  const dir = mkdtempSync(path.join(os.tmpdir(), 'weir-site-pages-'));
  try {
    fill(path.join(dir, 'manager.db'), sites, assets, edges);
    const db = openFleetDb(path.join(dir, 'manager.db'));
    const store = openStore(path.join(dir, 'weir.db'));
    await importFeed(store, path.join(root, 'fixtures/advisories'));
    const index = advisoryIndexOf(store);
    const q = { limit: 200, offset: 0 };
    const rows: Array<[string, number]> = [
      ['flows, one site (200 busiest)', time(runs, () => fleetFlows(db, 's0', q))],
      ['flows, all sites (200 busiest)', time(runs, () => fleetFlows(db, '*', q))],
      [
        'vulnerabilities, one site',
        time(runs, () => fleetVulnerabilities(db, 's0', index, { minConfidence: 'family' })),
      ],
      [
        'vulnerabilities, all sites',
        time(runs, () => fleetVulnerabilities(db, '*', index, { minConfidence: 'family' })),
      ],
      ['risk, one site', time(runs, () => fleetRisk(db, 's0', index))],
      ['risk, all sites', time(runs, () => fleetRisk(db, '*', index))],
    ];
    // The patch plan alone, this build and the one before, on the same inputs.
    const inv = siteInventory(db, 's0');
    const vulns = assessVulnerabilities(inv.assets, index);
    const risk = assessRisk(
      inv.assets,
      exposurePaths(inv.assets, inv.edges, null).paths,
      vulns,
      new Map(),
      null,
    );
    const plan: Array<[string, number]> = [
      ['this build', time(runs, () => planPatches(vulns, risk.assets, inv.edges))],
    ];
    const before = process.env.BENCH_BEFORE;
    if (before) {
      const old = (await import(path.resolve(before, 'src/assess/patch-plan.js'))) as {
        planPatches: typeof planPatches;
      };
      const same =
        JSON.stringify(old.planPatches(vulns, risk.assets, inv.edges)) ===
        JSON.stringify(planPatches(vulns, risk.assets, inv.edges));
      plan.push([
        `before (${before}; same output: ${same ? 'yes' : 'NO'})`,
        time(runs, () => old.planPatches(vulns, risk.assets, inv.edges)),
      ]);
    }
    db.close();
    store.close();
    const load = os.loadavg().map((l) => l.toFixed(1));
    writeSection(
      'site pages',
      `## site pages (${today()})

Machine: ${machine()}. **Shared with other sessions while measured** (load average ${load.join('/')} after the run): read the ratios.

A manager.db of ${sites} sites × ${assets.toLocaleString('en')} assets × ${edges.toLocaleString('en')} edges (bench/site-pages.ts); what each page's API computes (src/fleet/aggregate-pages.ts), without HTTP. Medians of ${runs}.

| page | ms |
| --- | ---: |
${rows.map(([n, ms]) => `| ${n} | ${ms.toFixed(0)} |`).join('\n')}

Patch plan alone (one site: ${vulns.assets.length} vulnerable assets over ${edges.toLocaleString('en')} edges):

| build | ms |
| --- | ---: |
${plan.map(([n, ms]) => `| ${n} | ${ms.toFixed(1)} |`).join('\n')}

Risk and vulnerabilities are computed per request from each site's whole inventory, as the single-host pages are; all sites cost the sum of the sites.
`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
