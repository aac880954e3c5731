import type { Command } from 'commander';
import { DEFAULT_MAX_ASSETS, DEFAULT_MAX_EDGES, Inventory } from '../../discover/inventory.js';
import type { Asset, Edge, InventorySnapshot } from '../../discover/model.js';
import { openStore } from '../../store/db.js';
import { latestKnowledge } from '../../store/bundle-store.js';
import { overlayOuiTable } from '../../discover/oui.js';
import {
  mergeInventory,
  storedAssetsOf,
  storedEdgesOf,
  storedInventoryOf,
  type CaptureRecord,
} from '../../store/inventory-store.js';
import { countRows } from '../../store/read-store.js';
import { fitLine, renderColumns } from '../columns.js';
import { addTraffic } from '../../store/traffic-store.js';
import { trafficFor } from '../../respond/zones.js';
import type { Stage } from '../../dissect/stage.js';
import { cliSettings } from '../settings.js';
import { runCaptures, warnCaptureErrors, type FileResult } from '../run-capture.js';
import {
  boundsSplit,
  readAgainOnOneThread,
  runShardedCaptures,
  workerCount,
} from '../run-sharded.js';
import { DiscoverShard } from '../../discover/shard-core.js';
import type { EdgeRecord } from '../../discover/edge-book.js';
import { addCounts } from '../../capture/counts.js';
import {
  countsOf,
  edgeIsProbe,
  inventoryCounts,
  inventoryLine,
  scansOf,
  type InventoryCounts,
} from '../../discover/counts.js';

export function registerDiscover(program: Command): void {
  program
    .command('discover')
    .description(
      'build the asset inventory and communication map from captures (passive: reads files only)',
    )
    .argument('<files...>', 'capture files (pcap/pcapng, "-" for stdin)')
    .option('--json', 'print the inventory as JSON')
    .option(
      '--db <path>',
      'SQLite store to merge this inventory into (created if missing); counts add up, so a capture imported twice counts as two observation periods',
    )
    .option(
      '--max-assets <n>',
      `assets tracked at most; beyond, new senders are counted as not tracked (default: settings inventory.max_assets, ${DEFAULT_MAX_ASSETS})`,
    )
    .option(
      '--max-edges <n>',
      `edges tracked at most; beyond, new edges are counted as not tracked (default: settings inventory.max_edges, ${DEFAULT_MAX_EDGES})`,
    )
    .option(
      '--workers <n>',
      'threads to spread the capture over, by address pair: the main thread and N - 1 workers (same result as one thread; default: settings dissect.workers, 1)',
    )
    .action(
      async (
        files: string[],
        opts: {
          json?: boolean;
          db?: string;
          maxAssets?: string;
          maxEdges?: string;
          workers?: string;
        },
      ) => {
        const bounds = cliSettings().inventory;
        const workers = workerCount(opts.workers);
        const limits = {
          maxAssets:
            opts.maxAssets !== undefined
              ? positive(opts.maxAssets, '--max-assets')
              : bounds.max_assets,
          maxEdges:
            opts.maxEdges !== undefined ? positive(opts.maxEdges, '--max-edges') : bounds.max_edges,
        };
        // With workers, this inventory keeps the asset half; the workers keep the edges.
        let inv = new Inventory(limits, { edges: workers === 1 });
        const db = opts.db ? openStore(opts.db) : null;
        // An OUI table that came in a signed bundle names NIC makers the built-in registry does not know yet.
        const oui = db ? latestKnowledge(db, 'oui') : null;
        if (oui) overlayOuiTable(oui.data.toString('utf8'));
        try {
          // With a store, traffic per zone and minute is kept too (for the dashboard's flows chart).
          let traffic = db ? trafficFor(db) : null;
          // Bounds the inventory reached while reading each file are reported with that file.
          let seen: Record<string, number> = {};
          const afterFile = (r: FileResult): void => {
            for (const [k, v] of Object.entries(inv.capped))
              if (v > (seen[k] ?? 0)) r.capped[k] = (r.capped[k] ?? 0) + v - (seen[k] ?? 0);
            seen = { ...inv.capped };
          };
          const stages = (): Stage[] => (traffic ? [inv, traffic] : [inv]);
          let shardEdges: EdgeRecord[][] | null = null;
          let results: FileResult[] | null = null;
          if (workers > 1) {
            const r = await runShardedCaptures(files, workers, stages(), {
              maxEdges: limits.maxEdges,
              onMessage: (m) => inv.onAssetMessage(m),
              afterFile,
              inline: (init) => new DiscoverShard(init, true),
            });
            // A sender max_assets turned away starts no edge on one thread, but the shards (which see no
            // asset table) started its edges: a flood of spoofed senders past the bound would change the
            // result. So would any bound split between the shards (boundsSplit). Read the files again on one
            // thread; input that cannot be read twice (stdin, a FIFO, a pipe) keeps the sharded result, said so.
            const differ = (inv.capped.assets_not_tracked ?? 0) > 0 || boundsSplit(r.results);
            if (readAgainOnOneThread(differ, files)) {
              inv = new Inventory(limits);
              traffic = db ? trafficFor(db) : null;
              seen = {};
            } else {
              results = r.results;
              shardEdges = r.edges;
            }
          }
          results ??= await runCaptures(files, stages(), { afterFile });
          let snap: InventorySnapshot | undefined;
          let stored: { assets: number; edges: number } | null = null;
          if (db) {
            // Merged with what the store holds (other captures, a live follower); shown as merged. The delta's
            // edge records are built as the merge pulls them, a step at a time; only their ids are kept.
            const delta = inv.takeDeltaStreamWith(shardEdges);
            const ids: string[] = [];
            const edges = (function* () {
              for (const e of delta.edges) {
                ids.push(e.id);
                yield e;
              }
            })();
            const records = results.map(captureRecord);
            const capped = mergeInventory(db, { assets: delta.assets, edges }, records);
            if (results.length > 0) addCounts(results.at(-1)!.capped, capped);
            if (traffic) addTraffic(db, traffic.take());
            stored = { assets: countRows(db, 'assets'), edges: countRows(db, 'edges') };
            const named = function* () {
              for (const id of ids) yield { id };
            };
            if (opts.json) {
              const assets = storedAssetsOf(db, delta.assets);
              let n = 0;
              const probes: Edge[] = [];
              for (const e of storedEdgesOf(db, named())) {
                n++;
                if (edgeIsProbe(e)) probes.push(e);
              }
              await writeJson(
                {
                  assets,
                  counts: countsOf(assets, n, probes),
                  edges: () => storedEdgesOf(db, named()),
                },
                results,
              );
            } else snap = storedInventoryOf(db, { assets: delta.assets, edges: named() });
          } else if (opts.json) {
            // Without a store the JSON is written as the inventory is read out, one edge record at a time.
            await writeJson(inv.readOutWith(shardEdges), results);
          }
          if (!opts.json)
            process.stdout.write(
              renderInventory(snap ?? inv.snapshotWith(shardEdges), results, stored),
            );
          warnCaptureErrors(results);
        } finally {
          db?.close();
        }
      },
    );
}

/** Rows a table shows at most: a flood of senders must not make a text table of a hundred thousand rows. */
const MAX_TABLE_ROWS = 5000;

/** The inventory as one JSON document, written a slice at a time (with back-pressure), never as one string. */
async function writeJson(
  r: { assets: Asset[]; counts: InventoryCounts; edges(): Iterable<Edge> },
  results: FileResult[],
): Promise<void> {
  const out = process.stdout;
  const put = async (text: string): Promise<void> => {
    if (!out.write(text)) await new Promise((r) => out.once('drain', r));
  };
  const list = async (key: string, xs: Iterable<unknown>, last: boolean): Promise<void> => {
    await put(`${JSON.stringify(key)}: [`);
    let slice: string[] = [],
      first = true;
    const flush = async (): Promise<void> => {
      await put((first ? '\n' : ',\n') + slice.join(',\n'));
      first = false;
      slice = [];
    };
    for (const x of xs) {
      slice.push(JSON.stringify(x));
      if (slice.length === 500) await flush();
    }
    if (slice.length) await flush();
    await put(`\n]${last ? '' : ',\n'}`);
  };
  await put(`{\n"counts": ${JSON.stringify(r.counts)},\n`);
  await list('assets', r.assets, false);
  await list('edges', r.edges(), false);
  await list('captures', results.map(captureJson), true);
  await put('\n}\n');
}

function positive(v: string, flag: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1)
    throw new Error(`${flag} takes a positive whole number, not '${v}'`);
  return n;
}

function captureRecord(r: FileResult): CaptureRecord {
  return {
    source: r.source,
    format: r.summary.format,
    frames: r.summary.frames,
    messages: r.stats.messages,
    firstTs: r.firstTs,
    lastTs: r.lastTs,
    error: r.summary.error ? r.summary.error.reason : null,
    anomalies: { ...r.summary.anomalies, ...r.stats.anomalies },
    capped: { ...r.capped },
  };
}

function captureJson(r: FileResult): Record<string, unknown> {
  return {
    source: r.source,
    format: r.summary.format,
    frames: r.summary.frames,
    error: r.summary.error,
    stats: r.stats,
    anomalies: r.summary.anomalies,
    unknownBlockTypes: r.summary.unknownBlockTypes,
    capped: r.capped,
  };
}

function renderInventory(
  snap: InventorySnapshot,
  results: FileResult[],
  stored: { assets: number; edges: number } | null,
): string {
  const lines: string[] = [];
  const frames = results.reduce((n, r) => n + r.summary.frames, 0);
  const msgs = results.reduce((n, r) => n + r.stats.messages, 0);
  const counts = inventoryCounts(snap);
  lines.push(
    fitLine(
      `${frames} frames, ${msgs} protocol messages, ${inventoryLine(counts)}` +
        (stored
          ? `; as merged into the store, which now holds ${stored.assets} assets and ${stored.edges} edges`
          : ''),
    ),
  );
  lines.push('', 'ASSETS');
  lines.push(
    renderColumns(
      ['address', 'mac', 'role', 'vendor / product', 'firmware', 'serves', 'uses', 'names'],
      snap.assets.slice(0, MAX_TABLE_ROWS).map(assetRow),
    ),
  );
  if (snap.assets.length > MAX_TABLE_ROWS)
    lines.push(
      `… ${snap.assets.length - MAX_TABLE_ROWS} more assets not shown (--json lists them all)`,
    );
  lines.push('', 'EDGES (client → server)');
  // The probes of a scan fold into one row per pair (the same definition every other count uses).
  const scanOf = scansOf(snap.edges.filter(edgeIsProbe));
  const et: string[][] = [];
  for (const e of snap.edges) {
    const scan = scanOf.get(e);
    if (scan === undefined) {
      et.push(edgeRow(e));
      continue;
    }
    if (scan[0] !== e) continue;
    const ports = scan.map((x) => x.port).sort((a, b) => a - b);
    const last = scan.reduce((t, x) => Math.max(t, x.lastSeen), -Infinity);
    et.push([
      e.client,
      e.server,
      `${scan.length} ports tried`,
      `${e.transport}/${ports[0]}..${ports.at(-1)}`,
      String(scan.reduce((n, x) => n + x.packets, 0)),
      'connection attempts only (a scan)',
      '',
      new Date(last * 1000).toISOString().replace('T', ' ').slice(0, 19),
    ]);
  }
  lines.push(
    renderColumns(
      ['client', 'server', 'protocol', 'port', 'packets', 'functions', 'poll', 'last seen'],
      et.slice(0, MAX_TABLE_ROWS),
    ),
  );
  if (et.length > MAX_TABLE_ROWS)
    lines.push(`… ${et.length - MAX_TABLE_ROWS} more edge rows not shown (--json lists them all)`);
  const anomalies: Record<string, number> = {};
  for (const r of results)
    for (const [k, v] of Object.entries({ ...r.summary.anomalies, ...r.stats.anomalies }))
      anomalies[k] = (anomalies[k] ?? 0) + v;
  const list = Object.entries(anomalies).sort((a, b) => b[1] - a[1]);
  if (list.length) lines.push('', `anomalies: ${list.map(([k, v]) => `${k}=${v}`).join(', ')}`);
  const blockTypes = [...new Set(results.flatMap((r) => r.summary.unknownBlockTypes))];
  if (blockTypes.length)
    lines.push(`unknown pcapng block types (first seen): ${blockTypes.join(', ')}`);
  const capped: Record<string, number> = {};
  for (const r of results) addCounts(capped, r.capped);
  const cl = Object.entries(capped);
  if (cl.length)
    lines.push(
      `capped (bounds reached, not tracked): ${cl.map(([k, v]) => `${k}=${v}`).join(', ')}`,
    );
  return lines.join('\n') + '\n';
}

function assetRow(a: Asset): string[] {
  const vendor = [
    a.identity.vendor ?? a.macVendor ?? '',
    a.identity.product ?? a.identity.model ?? '',
  ]
    .filter(Boolean)
    .join(' / ');
  const mode = a.identity.plcMode ? ` (${a.identity.plcMode})` : '';
  return [
    a.ips.join(' ') || '-',
    a.mac ?? '',
    a.role + mode,
    vendor,
    a.identity.firmware ?? '',
    a.serves.join(','),
    a.uses.join(','),
    a.hostnames.join(','),
  ];
}

function edgeRow(e: Edge): string[] {
  const funcs = e.functions
    .filter((f) => f.func >= 0)
    .slice(0, 6)
    .map((f) => `${f.name || f.func}×${f.count}`)
    .join(' ');
  const poll = e.pollInterval !== null ? `${e.pollInterval.toFixed(3)}s` : '';
  return [
    e.client,
    e.server,
    e.protocol,
    e.transport === 'ip' ? '' : `${e.transport}/${e.port}`,
    String(e.packets),
    funcs,
    poll,
    new Date(e.lastSeen * 1000).toISOString().replace('T', ' ').slice(0, 19),
  ];
}
