import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openStore } from '../../src/store/db.js';
import { buildServer } from '../../src/server/app.js';
import { repoRoot, sharedCapture } from '../helpers/paths.js';
import { person, weir, weirOk } from '../helpers/weir-cli.js';

/**
 * One definition per count, checked across commands on the same input: an asset is a device (an inventory entry
 * with one or more addresses), an edge or flow is client → server over one transport and server port, a scan is
 * at least 4 refused connection attempts of one pair that carried nothing (each still an edge or flow), shown as
 * one row. discover, learn, simulate (text, JSON, HTML), drift (text, JSON) and the API must all agree.
 */

const plant = path.join(repoRoot, 'fixtures/plant.pcap');
const num = (m: RegExpMatchArray | null, i: number, what: string): number => {
  assert.ok(m, `no ${what}`);
  return Number(m[i]);
};

/** Rows of a column table printed after its dashed rule, up to the first blank line. */
function tableRows(text: string, after: string): string[] {
  const lines = text.split('\n');
  let i = lines.findIndex((l) => l.startsWith(after));
  assert.ok(i >= 0, `no table after ${after}`);
  while (!/^-+ /.test(lines[i]!)) i++;
  const out: string[] = [];
  for (i++; i < lines.length && lines[i]!.trim() !== ''; i++) out.push(lines[i]!);
  return out;
}

interface Counts {
  assets: number;
  edges: number;
  edgeRows: number;
  edgeScanProbes: number;
  flows: number;
  scanProbes: number;
  scans: number;
  rows: number;
}

/** Every command on one capture, under the given policy or one proposed from the capture's first half. */
async function countEverywhere(capture: string, o: { policy?: string } = {}): Promise<Counts> {
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-counts-'));
  try {
    const db = path.join(dir, 'weir.db');
    // Discover: the header, the rows it prints, and the JSON agree.
    const disc = (await weirOk(['discover', capture, '--db', db])).stdout;
    const head = disc.split('\n')[0]!;
    const assets = num(head.match(/ (\d+) assets?\b/), 1, `asset count in: ${head}`);
    const edges = num(head.match(/ (\d+) edges?\b/), 1, `edge count in: ${head}`);
    const shown = tableRows(disc, 'EDGES');
    const scanM = head.match(
      / edges in (\d+) rows \((\d+) of them (?:is a connection attempt|are connection attempts) of (\d+) scans?, folded into \3 rows?\)/,
    );
    const edgeRows = scanM ? Number(scanM[1]) : edges;
    const edgeScanProbes = scanM ? Number(scanM[2]) : 0;
    assert.equal(
      shown.length,
      edgeRows,
      `discover says ${head} and prints ${shown.length} edge rows`,
    );
    assert.equal(
      edgeRows,
      edges - edgeScanProbes + (scanM ? Number(scanM[3]) : 0),
      'every edge is a row but the probes of a scan, one row per scan',
    );
    const json = JSON.parse((await weirOk(['discover', capture, '--json'])).stdout) as {
      counts: Record<string, number>;
      assets: unknown[];
      edges: unknown[];
    };
    assert.deepEqual(
      [
        json.assets.length,
        json.edges.length,
        json.counts.assets,
        json.counts.edges,
        json.counts.rows,
        json.counts.scanProbes,
      ],
      [assets, edges, assets, edges, edgeRows, edgeScanProbes],
    );

    // Learn on the same traffic: the same assets (devices, not addresses) and edges.
    const learnRun = await weirOk(['learn', capture, '--db', db]);
    const learned = learnRun.stdout;
    assert.match(
      learned,
      new RegExp(`^baseline v1: ${assets} assets?( \\(\\d+ address(es)?\\))?, ${edges} edges?\\b`),
      learned,
    );
    if (edgeScanProbes) {
      assert.match(
        learned,
        new RegExp(`${edges} edges in ${edgeRows} rows \\(${edgeScanProbes} of them`),
      );
      assert.match(
        learnRun.stderr,
        new RegExp(
          `warning: this baseline holds \\d+ scans? \\(${edgeScanProbes} connection attempts\\) as normal traffic`,
        ),
      );
    }

    // A policy: given, or proposed from the first half (what the demo does).
    const policy = path.join(dir, 'policy.yaml');
    if (o.policy === undefined) {
      await weirOk(['learn', capture, '--db', db, '--until', '50%']);
      await weirOk(['policy', 'propose', '--baseline', db, '--out', policy]);
    } else writeFileSync(policy, o.policy);

    // Simulate on the whole capture (what drift reads), recorded and as HTML.
    const token = await person(db, dir, 'alice', ['analyst', 'admin'], { admin: '' });
    const html = path.join(dir, 'report.html');
    const sim = (
      await weirOk([
        'policy',
        'simulate',
        policy,
        '--capture',
        capture,
        '--baseline',
        db,
        '--db',
        db,
        '--html',
        html,
        '--token-file',
        token,
      ])
    ).stdout;
    const simHead = sim.split('\n')[0]!;
    const flows = /^Nothing would break/.test(simHead)
      ? 0
      : num(simHead.match(/^(\d+) flows? would break/), 1, `flow count in: ${simHead}`);
    const sScan = simHead.match(
      /\((\d+) of them (?:is a connection attempt|are connection attempts) of (\d+) scans?/,
    );
    const scanProbes = sScan ? Number(sScan[1]) : 0,
      scans = sScan ? Number(sScan[2]) : 0;
    const rows = flows ? tableRows(sim, 'zone ').length : 0;
    // A list longer than its count says why (a flow refused for several functions has a row for each).
    if (rows !== flows - scanProbes + scans)
      assert.match(simHead, new RegExp(`${rows} rows: one per flow, reason and function`), simHead);
    const listed = sim.split('\n').filter((l) => l.startsWith('  - ')).length;
    assert.equal(listed, Math.min(rows, 10), 'the summary lists the rows, up to 10');
    if (rows > 10) assert.match(sim, new RegExp(`… and ${rows - 10} more rows?`));

    const sj = JSON.parse(
      (
        await weirOk([
          'policy',
          'simulate',
          policy,
          '--capture',
          capture,
          '--baseline',
          db,
          '--json',
        ])
      ).stdout,
    ) as {
      zones: Record<string, { blockedFlows: number; scanProbes?: number; scans?: number }>;
      summary: string;
      counts: Record<string, number>;
    };
    const zones = Object.values(sj.zones);
    assert.equal(
      zones.reduce((n, z) => n + z.blockedFlows, 0),
      flows,
      'JSON zones add up to the flows the text states',
    );
    assert.equal(
      zones.reduce((n, z) => n + (z.scanProbes ?? 0), 0),
      scanProbes,
    );
    assert.equal(sj.summary.split('\n')[0], simHead);
    assert.deepEqual(sj.counts, {
      flows,
      baselineFlows: sj.counts.baselineFlows,
      scans,
      scanProbes,
      rows,
    });

    // The HTML report: its summary and its zone table state the same flows; its sections list the same rows.
    const page = readFileSync(html, 'utf8');
    assert.ok(
      page.includes(
        `<pre>${simHead.replace(/&/g, '&#38;').replace(/</g, '&#60;').replace(/>/g, '&#62;')}`,
      ),
      'the HTML summary is the CLI summary',
    );
    const zoneCells = [
      ...page.matchAll(
        /<tr><td>[^<]*<\/td><td>\w+<\/td><td>(\d+)<\/td><td>(\d+)<\/td><td>(\d+)<\/td>/g,
      ),
    ];
    assert.equal(
      zoneCells.reduce((n, m) => n + Number(m[2]), 0),
      flows,
      'the HTML zone table counts the flows its summary counts',
    );
    assert.equal(
      zoneCells.reduce((n, m) => n + Number(m[3]), 0),
      scanProbes,
    );
    const sectionRows = (
      page
        .split('<h2>Zones</h2>')[1]!
        .split('<h2>Context groups')[0]!
        .match(/<tr class="(bad)?"><td>/g) ?? []
    ).length;
    assert.equal(sectionRows, rows, 'the HTML sections list the rows the CLI table lists');

    // Drift on the same traffic: the same flows, scans and rows; exit 2 when violated.
    const drift = await weir(['policy', 'drift', policy, '--capture', capture]);
    assert.equal(drift.code, flows ? 2 : 0, drift.stderr);
    const dHead = drift.stdout.split('\n')[0]!;
    assert.equal(
      num(dHead.match(/^(\d+) flows? runs? that the policy does not allow/), 1, dHead),
      flows,
    );
    if (scans)
      assert.match(
        dHead,
        new RegExp(`\\(${scanProbes} of them are connection attempts of ${scans} scans?`),
      );
    const dRows = drift.stdout
      .split('\n')
      .filter((l) => /^ {2}(critical|high|medium|low) /.test(l)).length;
    assert.equal(dRows, Math.min(rows, 20));
    if (rows > 20)
      assert.match(
        drift.stdout,
        new RegExp(`… ${rows - 20} more rows? \\(--json lists them all\\)`),
      );
    const dj = JSON.parse(
      (await weir(['policy', 'drift', policy, '--capture', capture, '--json'])).stdout,
    ) as { counts: { flows: number; scanProbes: number; scans: number; rows: number } };
    assert.deepEqual(
      [dj.counts.flows, dj.counts.scanProbes, dj.counts.scans, dj.counts.rows],
      [flows, scanProbes, scans, rows],
    );

    // The API over the store: the same assets, edges and simulated flows.
    const store = openStore(db);
    const app = await buildServer({ db: store });
    try {
      const login = await app.inject({
        method: 'POST',
        url: '/api/session',
        payload: { user: 'alice', password: 'alice-password-123' },
      });
      assert.equal(login.statusCode, 200, login.body);
      const cookie = `weir_session=${login.cookies.find((c) => c.name === 'weir_session')!.value}`;
      const get = async (url: string): Promise<Record<string, unknown>> => {
        const r = await app.inject({ method: 'GET', url, headers: { cookie } });
        assert.equal(r.statusCode, 200, r.body);
        return r.json();
      };
      const ov = await get('/api/overview');
      assert.deepEqual(
        [ov.assets, ov.edges],
        [assets, edges],
        'the overview counts what discover printed',
      );
      assert.match(String(ov.health), new RegExp(`^${assets} assets? on the map`));
      const item = ((await get('/api/simulations')).items as Array<Record<string, unknown>>)[0]!;
      assert.deepEqual(
        [item.blockedFlows, item.scanProbes, item.scans],
        [flows, scanProbes, scans],
        'the recorded simulation counts what simulate printed',
      );
    } finally {
      await app.close();
      store.close();
    }
    return { assets, edges, edgeRows, edgeScanProbes, flows, scanProbes, scans, rows };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('the demo plant: discover, learn, simulate, drift, the HTML report and the API give the same counts', async () => {
  const c = await countEverywhere(plant);
  // 6 industrial conversations, 14 ICMPv6 ones, and a scan of 200 ports by 10.77.0.66 (one row).
  assert.deepEqual(c, {
    assets: 7,
    edges: 220,
    edgeRows: 21,
    edgeScanProbes: 200,
    flows: 202,
    scanProbes: 200,
    scans: 1,
    rows: 3,
  });
});

test('a shared DNP3 capture: one flow refused for two functions is one flow in two rows, said so', async (t) => {
  const dnp3 = sharedCapture('icsnpp/dnp3_example.pcap');
  if (dnp3 === null) {
    t.skip('shared captures not here');
    return;
  }
  const c = await countEverywhere(dnp3);
  assert.deepEqual([c.assets, c.edges, c.flows, c.rows], [2, 1, 1, 2]);
});

test('a shared BACnet capture under a policy that allows nothing: every list says how many more it did not show', async (t) => {
  const bacnet = sharedCapture('icsnpp/bacnet_example.pcap');
  if (bacnet === null) {
    t.skip('shared captures not here');
    return;
  }
  const policy =
    'weir: policy/1\nsite: t\ntimezone: UTC\nzones:\n  - name: plant\n    members: [ 0.0.0.0/0 ]\n    mode: observe\n    internal: restrict\n    approvals: [ security ]\n';
  const c = await countEverywhere(bacnet, { policy });
  assert.deepEqual([c.edges, c.flows, c.rows], [91, 91, 91]);
});

test('drift (and simulate) put the PLC stop first, fold the scan into one row; drift exits 2', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-drift-'));
  try {
    const db = path.join(dir, 'weir.db');
    await weirOk(['learn', plant, '--db', db, '--until', '50%', '--create']);
    const policy = path.join(dir, 'policy.yaml');
    await weirOk(['discover', plant, '--db', db]);
    await weirOk(['policy', 'propose', '--baseline', db, '--out', policy]);
    const r = await weir(['policy', 'drift', policy, '--capture', plant]);
    assert.equal(r.code, 2, 'traffic that violates the policy is a failed check');
    const rows = r.stdout.split('\n').filter((l) => /^ {2}(critical|high|medium|low) /.test(l));
    assert.match(
      rows[0]!,
      /^ {2}critical +engineering-workstation-30 → SNAP7-SERVER s7comm plc_stop/,
    );
    assert.match(
      rows[1]!,
      /^ {2}high +10\.77\.0\.66 → plc-21 tcp\/502 .*carrying write requests/,
      'a rogue writer ranks above its own scan',
    );
    assert.match(rows[2]!, /^ {2}medium +10\.77\.0\.66 → plc-21 tcp 200 ports \(1\.\.200\)/);
    assert.equal(rows.length, 3);
    // simulate lists its rows in the same order (after what breaks learned-normal traffic, here nothing).
    const listed = (await weirOk(['policy', 'simulate', policy, '--capture', plant])).stdout
      .split('\n')
      .filter((l) => l.startsWith('  - '));
    assert.match(listed[0]!, /engineering-workstation-30 → SNAP7-SERVER s7comm plc_stop/);
    assert.match(listed[2]!, /tcp 200 ports/);
    const j = JSON.parse(
      (await weir(['policy', 'drift', policy, '--capture', plant, '--json'])).stdout,
    ) as { violations: Array<{ severity: string; funcName: string | null }> };
    assert.equal(j.violations[0]!.funcName, 'plc_stop');
    assert.equal(j.violations[0]!.severity, 'critical');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
