import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { Asset, Edge } from '../../src/discover/model.js';
import { repoRoot, sharedCapture } from '../helpers/paths.js';
// WEIR_TEST_CLI runs these against another build (e.g. to show they fail on an older one).
import { cli } from '../helpers/weir-cli.js';

const run = promisify(execFile);
const plant = path.join(repoRoot, 'fixtures/plant.pcap');

interface Inv {
  assets: Asset[];
  edges: Edge[];
}

async function alone(file: string): Promise<Inv> {
  return JSON.parse(
    (await run(process.execPath, [cli, 'discover', file, '--json'], { maxBuffer: 1 << 28 })).stdout,
  ) as Inv;
}

/** `weir serve --capture FILE` until it says it finished following (its last write is done by then). */
function serveFollowing(db: string, file: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const srv = spawn(
      process.execPath,
      [cli, 'serve', '--db', db, '--port', '0', '--capture', file],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '',
      err = '';
    srv.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (/finished following/.test(out)) srv.kill('SIGTERM');
    });
    srv.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    srv.on('close', () =>
      /finished following/.test(out) ? resolve() : reject(new Error(`serve: ${out}${err}`)),
    );
  });
}

test(
  'two discover --db processes and a serve --capture follower write one store at once: every asset and edge of each, counts summed',
  { timeout: 120_000 },
  async (t) => {
    const modbus = sharedCapture('icsnpp/modbus_example.pcap');
    const dnp3 = sharedCapture('icsnpp/dnp3_example.pcap');
    if (!modbus || !dnp3) return t.skip('captures missing');
    const dir = mkdtempSync(path.join(tmpdir(), 'weir-writers-'));
    try {
      const db = path.join(dir, 'w.db');
      // The store exists (schema migrated) before the writers race for it.
      await run(process.execPath, [cli, 'discover', dnp3, '--db', db]);
      const runs = {
        dnp3: await alone(dnp3),
        plant: await alone(plant),
        modbus: await alone(modbus),
      };
      await Promise.all([
        run(process.execPath, [cli, 'discover', plant, '--db', db], { maxBuffer: 1 << 28 }),
        run(process.execPath, [cli, 'discover', modbus, dnp3, '--db', db], { maxBuffer: 1 << 28 }),
        serveFollowing(db, plant),
      ]);
      // What the store must hold: dnp3 twice (first import, then beside modbus), plant twice (discover and serve), modbus once.
      const times: Array<[Inv, number]> = [
        [runs.dnp3, 2],
        [runs.plant, 2],
        [runs.modbus, 1],
      ];
      const want = new Map<string, number>();
      const wantAssets = new Map<string, number>();
      for (const [inv, n] of times) {
        for (const e of inv.edges) want.set(e.id, (want.get(e.id) ?? 0) + n * e.packets);
        for (const a of inv.assets)
          wantAssets.set(a.id, (wantAssets.get(a.id) ?? 0) + n * a.packetsSent);
      }
      const store = new Database(db, { readonly: true });
      try {
        const edges = new Map(
          (
            store.prepare('SELECT id, packets FROM edges').all() as Array<{
              id: string;
              packets: number;
            }>
          ).map((r) => [r.id, r.packets]),
        );
        for (const [id, packets] of want) assert.equal(edges.get(id), packets, `edge ${id}`);
        assert.equal(edges.size, want.size, 'no edge from nowhere, no twins');
        const assets = new Map(
          (store.prepare('SELECT doc FROM assets').all() as Array<{ doc: string }>).map((r) => {
            const a = JSON.parse(r.doc) as Asset;
            return [a.id, a];
          }),
        );
        for (const [id, sent] of wantAssets)
          assert.equal(assets.get(id)?.packetsSent, sent, `asset ${id}`);
        assert.equal(assets.size, wantAssets.size);
        // Roles come from the merged facts, as each capture alone shows them.
        for (const inv of [runs.plant, runs.dnp3])
          for (const a of inv.assets)
            assert.equal(assets.get(a.id)!.role, a.role, `role of ${a.id}`);
        const plcEdge = runs.plant.edges.find(
          (e) => e.protocol === 'modbus' && e.pollInterval !== null,
        )!;
        const stored = JSON.parse(
          (store.prepare('SELECT doc FROM edges WHERE id = ?').get(plcEdge.id) as { doc: string })
            .doc,
        ) as Edge;
        for (const f of plcEdge.functions)
          assert.equal(
            stored.functions.find((g) => g.func === f.func)!.count,
            2 * f.count,
            `function ${f.name}`,
          );
        assert.deepEqual(stored.targets, plcEdge.targets, 'address ranges united, not doubled');
        assert.equal(stored.firstSeen, plcEdge.firstSeen);
        assert.equal(stored.lastSeen, plcEdge.lastSeen);
        const sources = (
          store.prepare('SELECT source FROM captures ORDER BY id').all() as Array<{
            source: string;
          }>
        ).map((r) => path.basename(r.source));
        assert.deepEqual([...sources].sort(), [
          'dnp3_example.pcap',
          'dnp3_example.pcap',
          'modbus_example.pcap',
          'plant.pcap',
          'plant.pcap',
        ]);
      } finally {
        store.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
