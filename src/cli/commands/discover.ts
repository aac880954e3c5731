import type { Command } from 'commander';
import { Inventory } from '../../discover/inventory.js';
import type { Asset, Edge, InventorySnapshot } from '../../discover/model.js';
import { openStore } from '../../store/db.js';
import { loadInventory, saveInventory, type CaptureRecord } from '../../store/inventory-store.js';
import { renderColumns } from '../columns.js';
import { addTraffic } from '../../store/traffic-store.js';
import { trafficFor } from '../../respond/zones.js';
import { runCaptures, warnCaptureErrors, type FileResult } from '../run-capture.js';

export function registerDiscover(program: Command): void {
  program
    .command('discover')
    .description('build the asset inventory and communication map from captures (passive: reads files only)')
    .argument('<files...>', 'capture files (pcap/pcapng, "-" for stdin)')
    .option('--json', 'print the inventory as JSON')
    .option('--db <path>', 'SQLite store to add this inventory to (created if missing)')
    .action(async (files: string[], opts: { json?: boolean; db?: string }) => {
      const inv = new Inventory();
      const db = opts.db ? openStore(opts.db) : null;
      try {
        if (db) inv.load(loadInventory(db));
        // With a store, traffic per zone and minute is kept too (for the dashboard's flows chart).
        const traffic = db ? trafficFor(db) : null;
        const results = await runCaptures(files, traffic
          ? { onPacket: (p) => { inv.onPacket(p); traffic.onPacket(p); }, onMessage: (m) => inv.onMessage(m) }
          : { onPacket: (p) => inv.onPacket(p), onMessage: (m) => inv.onMessage(m) });
        const snap = inv.snapshot();
        if (db) saveInventory(db, snap, results.map(captureRecord));
        if (db && traffic) addTraffic(db, traffic.take());
        if (opts.json) process.stdout.write(JSON.stringify({ ...snap, captures: results.map(captureJson) }, null, 1) + '\n');
        else process.stdout.write(renderInventory(snap, results));
        warnCaptureErrors(results);
      } finally {
        db?.close();
      }
    });
}

function captureRecord(r: FileResult): CaptureRecord {
  return {
    source: r.source, format: r.summary.format, frames: r.summary.frames, messages: r.stats.messages,
    firstTs: r.firstTs, lastTs: r.lastTs, error: r.summary.error ? r.summary.error.reason : null,
    anomalies: { ...r.summary.anomalies, ...r.stats.anomalies },
  };
}

function captureJson(r: FileResult): Record<string, unknown> {
  return { source: r.source, format: r.summary.format, frames: r.summary.frames, error: r.summary.error, stats: r.stats };
}

function renderInventory(snap: InventorySnapshot, results: FileResult[]): string {
  const lines: string[] = [];
  const frames = results.reduce((n, r) => n + r.summary.frames, 0);
  const msgs = results.reduce((n, r) => n + r.stats.messages, 0);
  lines.push(`${frames} frames, ${msgs} protocol messages, ${snap.assets.length} assets, ${snap.edges.length} edges`);
  lines.push('', 'ASSETS');
  lines.push(renderColumns(['address', 'mac', 'role', 'vendor / product', 'firmware', 'serves', 'uses', 'names'], snap.assets.map(assetRow)));
  lines.push('', 'EDGES (client → server)');
  const et: string[][] = [];
  // Connection attempts that never carried data (closed ports, scans) fold into one row per pair.
  const attempts = new Map<string, Edge[]>();
  for (const e of snap.edges) {
    if (e.transport === 'tcp' && e.packets <= 3 && e.functions.length === 0 && e.protocols.length === 0) {
      const k = `${e.client}>${e.server}`;
      const list = attempts.get(k);
      if (list) list.push(e); else attempts.set(k, [e]);
    } else et.push(edgeRow(e));
  }
  for (const list of attempts.values()) {
    if (list.length === 1) { et.push(edgeRow(list[0]!)); continue; }
    const ports = list.map((e) => e.port).sort((a, b) => a - b);
    const last = Math.max(...list.map((e) => e.lastSeen));
    et.push([list[0]!.client, list[0]!.server, `${list.length} ports tried`, `tcp/${ports[0]}..${ports.at(-1)}`, String(list.reduce((n, e) => n + e.packets, 0)), 'connection attempts only', '', new Date(last * 1000).toISOString().replace('T', ' ').slice(0, 19)]);
  }
  lines.push(renderColumns(['client', 'server', 'protocol', 'port', 'packets', 'functions', 'poll', 'last seen'], et));
  const anomalies: Record<string, number> = {};
  for (const r of results) for (const [k, v] of Object.entries({ ...r.summary.anomalies, ...r.stats.anomalies })) anomalies[k] = (anomalies[k] ?? 0) + v;
  const list = Object.entries(anomalies).sort((a, b) => b[1] - a[1]);
  if (list.length) lines.push('', `anomalies: ${list.map(([k, v]) => `${k}=${v}`).join(', ')}`);
  return lines.join('\n') + '\n';
}

function assetRow(a: Asset): string[] {
  const vendor = [a.identity.vendor ?? a.macVendor ?? '', a.identity.product ?? a.identity.model ?? ''].filter(Boolean).join(' / ');
  const mode = a.identity.plcMode ? ` (${a.identity.plcMode})` : '';
  return [a.ips.join(' ') || '-', a.mac ?? '', a.role + mode, vendor, a.identity.firmware ?? '', a.serves.join(','), a.uses.join(','), a.hostnames.join(',')];
}

function edgeRow(e: Edge): string[] {
  const funcs = e.functions.filter((f) => f.func >= 0).slice(0, 6).map((f) => `${f.name || f.func}×${f.count}`).join(' ');
  const poll = e.pollInterval !== null ? `${e.pollInterval.toFixed(3)}s` : '';
  return [e.client, e.server, e.protocol, e.transport === 'ip' ? '' : `${e.transport}/${e.port}`, String(e.packets), funcs, poll, new Date(e.lastSeen * 1000).toISOString().replace('T', ' ').slice(0, 19)];
}
