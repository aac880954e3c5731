import type { Asset, Edge, InventorySnapshot } from './model.js';

/**
 * What a probe and a scan are, defined once for every count Weir prints (discover, learn, simulate, drift, the
 * HTML report, the API): a person comparing two outputs must find the same numbers.
 *
 * A probe is a TCP or UDP conversation (an edge, or a flow of a simulation) of at most PROBE_MAX_PACKETS packets
 * that carried no protocol message: a connection attempt to a closed or filtered port. A scan is at least
 * SCAN_MIN_PORTS probes from one client to one server over one transport; a scan is shown as one row, and
 * its probes still count as edges or flows ("220 edges in 21 rows; 200 of them are probes of 1 scan").
 */
export const PROBE_MAX_PACKETS = 3;
export const SCAN_MIN_PORTS = 4;

export interface ProbeAddress {
  client: string;
  server: string;
  transport: string;
  port: number;
}

export function isProbe(transport: string, packets: number, carriedMessages: boolean): boolean {
  return (
    (transport === 'tcp' || transport === 'udp') && packets <= PROBE_MAX_PACKETS && !carriedMessages
  );
}

/**
 * The scans among probes: each probe that belongs to a scan maps to its scan (the probes of that pair, in the
 * order given; the first one is where the scan's row stands). Probes of no scan are not in the map. Linear: a
 * full port scan has 65,535 probes.
 */
export function scansOf<T extends ProbeAddress>(probes: Iterable<T>): Map<T, T[]> {
  const byPair = new Map<string, T[]>();
  for (const p of probes) {
    const k = `${p.client}>${p.server}|${p.transport}`;
    const list = byPair.get(k);
    if (list) list.push(p);
    else byPair.set(k, [p]);
  }
  const scanOf = new Map<T, T[]>();
  for (const list of byPair.values())
    if (list.length >= SCAN_MIN_PORTS) for (const p of list) scanOf.set(p, list);
  return scanOf;
}

/** How many scans and probes in scans: the two numbers every output states next to its edge or flow count. */
export function scanCounts<T extends ProbeAddress>(
  scanOf: Map<T, T[]>,
): { scans: number; scanProbes: number } {
  return { scans: new Set(scanOf.values()).size, scanProbes: scanOf.size };
}

/** "200 of them are connection attempts of 1 scan, folded into 1 row" (empty when there is no scan). */
export function scanNote(c: { scans: number; scanProbes: number }): string {
  if (c.scans === 0) return '';
  const s = (n: number, one: string, many: string): string => `${n} ${n === 1 ? one : many}`;
  return `${c.scanProbes} of them ${c.scanProbes === 1 ? 'is a connection attempt' : 'are connection attempts'} of ${s(c.scans, 'scan', 'scans')}, folded into ${s(c.scans, 'row', 'rows')}`;
}

/** Edges whose conversation carried nothing: the probes of the communication map. */
export function edgeIsProbe(e: Edge): boolean {
  return isProbe(e.transport, e.packets, e.protocols.length > 0 || e.requests + e.responses > 0);
}

export interface InventoryCounts {
  /** Devices: inventory entries, each with one or more addresses. */
  assets: number;
  addresses: number;
  /** Conversations client → server over one transport and server port. */
  edges: number;
  scans: number;
  scanProbes: number;
  /** Rows an edge table shows: every edge, except that each scan's probes are one row. */
  rows: number;
}

export function inventoryCounts(snap: InventorySnapshot): InventoryCounts {
  return countsOf(snap.assets, snap.edges.length, snap.edges.filter(edgeIsProbe));
}

/** The same counts from the assets, how many edges there are and which of them are probes (a streamed read-out). */
export function countsOf(
  assets: readonly Asset[],
  edges: number,
  probes: Iterable<ProbeAddress>,
): InventoryCounts {
  const c = scanCounts(scansOf(probes));
  const addresses = new Set(assets.flatMap((a) => (a.ips.length ? a.ips : [a.id]))).size;
  return {
    assets: assets.length,
    addresses,
    edges,
    ...c,
    rows: edges - c.scanProbes + c.scans,
  };
}

/** "7 assets (12 addresses), 220 edges in 21 rows (200 of them are probes of 1 scan …)" */
export function inventoryLine(c: InventoryCounts): string {
  const note = scanNote(c);
  return `${c.assets} asset${c.assets === 1 ? '' : 's'} (${c.addresses} address${c.addresses === 1 ? '' : 'es'}), ${c.edges} edge${c.edges === 1 ? '' : 's'}${note ? ` in ${c.rows} rows (${note})` : ''}`;
}
