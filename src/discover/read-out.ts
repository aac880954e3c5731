import type { Asset, Edge } from './model.js';
import { countsOf, isProbe, type InventoryCounts } from './counts.js';
import { roleOf, type RoleEdge } from './roles.js';
import { ipv4Number } from './address-scope.js';

/**
 * The inventory read out one edge record at a time. A plant of a million edges held as a million records at
 * once doubled the sensor's memory; here only the asset records (a tenth as many) are held, and each edge record
 * is built when it is taken and can be written and dropped. Same records and order as the eager read-out.
 */
export interface InventoryReadOut {
  /** Every asset, roles inferred, in address order. */
  readonly assets: Asset[];
  readonly counts: InventoryCounts;
  /** Every edge, in address order (server, client, then port), each record built as it is taken. */
  edges(): Generator<Edge>;
}

/** What the read-out needs of the inventory's compact edge state. */
export interface EdgeStateView {
  client: string;
  server: string;
  port: number;
  transport: string;
  packets: number;
  requests: number;
  responses: number;
  protocols: readonly string[] | null;
}

/** Addresses in the inventory's order: IPv4 by number first, every other address after, as text. */
class AddressOrder {
  private readonly keys = new Map<string, number | string>();

  key(s: string): number | string {
    let k = this.keys.get(s);
    if (k === undefined) {
      const n = ipv4Number(s);
      k = n >= 0 ? n : s;
      this.keys.set(s, k);
    }
    return k;
  }

  /** Sorts xs by address (stable), each item's key looked up once rather than at every comparison. */
  sort<T>(xs: T[], addr: (x: T) => string): T[] {
    const keyed = xs.map((x) => ({ k: this.key(addr(x)), x }));
    keyed.sort((p, q) => cmpKeys(p.k, q.k));
    for (let i = 0; i < xs.length; i++) xs[i] = keyed[i]!.x;
    return xs;
  }

  cmp(a: string, b: string): number {
    return a === b ? 0 : cmpKeys(this.key(a), this.key(b));
  }
}

function cmpKeys(u: number | string, v: number | string): number {
  if (u === v) return 0;
  if (typeof u === 'number' && typeof v === 'number') return u - v;
  if (typeof u === 'number') return -1;
  if (typeof v === 'number') return 1;
  return u < v ? -1 : 1;
}

/**
 * Read out assets (unsorted, serves and uses filled) and edge states (in the inventory's insertion order, which
 * breaks ties as the eager stable sort did); `edgeOut` builds one edge's record. `roleView` gives what role
 * inference reads of a state without building its record (null when the states are records already).
 *
 * Each edge is sorted once: a server's list by (client, port) serves both its role and the output order, a
 * client's list by (server, port) its role. Ties keep the order seen, as the earlier sort of each asset's edges
 * (client lists first, then server lists) did: edges alike in server, client and port all come from one list.
 */
export function readOutOf<S extends EdgeStateView>(
  assets: Asset[],
  states: Iterable<S>,
  edgeOut: (s: S) => Edge,
  roleView: ((s: S) => RoleEdge) | null,
): InventoryReadOut {
  const order = new AddressOrder();
  const byServer = new Map<string, S[]>(),
    byClient = new Map<string, S[]>();
  const probes: S[] = [];
  let edgeCount = 0;
  for (const s of states) {
    edgeCount++;
    push(byServer, s.server, s);
    push(byClient, s.client, s);
    const carried = (s.protocols?.length ?? 0) > 0 || s.requests + s.responses > 0;
    if (isProbe(s.transport, s.packets, carried)) probes.push(s);
  }
  const byServerPort = (x: S, y: S): number => order.cmp(x.server, y.server) || x.port - y.port;
  sortServerLists(byServer, order);
  const view = (list: S[]): readonly RoleEdge[] =>
    roleView === null ? (list as unknown as RoleEdge[]) : list.map(roleView);
  for (const a of assets) {
    let cl: S[] = NONE,
      sv: S[] = NONE;
    for (const ip of a.ips) {
      const c = byClient.get(ip);
      // An address belongs to one asset: its client list is sorted once.
      if (c !== undefined) {
        if (c.length > 1) c.sort(byServerPort);
        cl = cl === NONE ? c : cl.concat(c);
      }
      const v = byServer.get(ip);
      if (v !== undefined) sv = sv === NONE ? v : sv.concat(v);
    }
    roleOf(a, view(cl), view(sv));
  }
  byClient.clear();
  order.sort(assets, (a) => a.id);
  const counts = countsOf(assets, edgeCount, probes);
  probes.length = 0;
  return {
    assets,
    counts,
    *edges() {
      for (const s of inOrder(byServer, order)) yield edgeOut(s);
    },
  };
}

const NONE: never[] = [];

/** Edge states in the inventory's order (server, client, port; ties in the order seen), sorted a server at a time. */
export function* orderedStates<S extends EdgeStateView>(states: Iterable<S>): Generator<S> {
  const byServer = new Map<string, S[]>();
  for (const s of states) push(byServer, s.server, s);
  const order = new AddressOrder();
  sortServerLists(byServer, order);
  yield* inOrder(byServer, order);
}

/** Each server's edges by (client, port); stable, so edges alike in client and port keep the order seen. */
function sortServerLists<S extends EdgeStateView>(
  byServer: Map<string, S[]>,
  order: AddressOrder,
): void {
  const byClientPort = (x: S, y: S): number => order.cmp(x.client, y.client) || x.port - y.port;
  for (const list of byServer.values()) if (list.length > 1) list.sort(byClientPort);
}

/** The edges of lists sorted by sortServerLists, a server at a time in address order. */
function* inOrder<S extends EdgeStateView>(
  byServer: Map<string, S[]>,
  order: AddressOrder,
): Generator<S> {
  for (const server of order.sort([...byServer.keys()], (a) => a)) yield* byServer.get(server)!;
}

function push<S>(m: Map<string, S[]>, k: string, s: S): void {
  const l = m.get(k);
  if (l === undefined) m.set(k, [s]);
  else l.push(s);
}
