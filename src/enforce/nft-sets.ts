import { ipv4Span, type Cidr } from '../policy/hosts.js';

/** One allowlist entry: client block . server block . protocol . server port. */
export interface FlowElem {
  client: Cidr;
  server: Cidr;
  transport: 'tcp' | 'udp';
  port: number;
}

interface Span {
  lo: number;
  hi: number;
}

const within = (a: Span, b: Span): boolean => a.lo >= b.lo && a.hi <= b.hi;
const meets = (a: Span, b: Span): boolean => a.lo <= b.hi && b.lo <= a.hi;

/**
 * nftables refuses overlapping elements in one interval set. Drop entries another entry already covers, then
 * deal the rest into as few sets as possible so that no two entries of a set overlap (usually one set; a second
 * only when groups cross, e.g. a /28 of clients to one server beside one client to a /28 of servers).
 */
export function packFlows(elems: FlowElem[]): FlowElem[][] {
  const items = elems.map((e) => ({
    e,
    c: ipv4Span(e.client),
    s: ipv4Span(e.server),
    key: `${e.transport}/${e.port}`,
  }));
  // Widest first, so a covered entry always meets its cover already kept.
  items.sort((a, b) => b.c.hi - b.c.lo + (b.s.hi - b.s.lo) - (a.c.hi - a.c.lo + (a.s.hi - a.s.lo)));
  const byService = new Map<string, typeof items>();
  for (const it of items) {
    const list = byService.get(it.key) ?? [];
    if (!list.some((k) => within(it.c, k.c) && within(it.s, k.s))) list.push(it);
    byService.set(it.key, list);
  }
  const sets: Array<Map<string, typeof items>> = [];
  for (const [key, list] of byService) {
    for (const it of list) {
      let placed = false;
      for (const set of sets) {
        const same = set.get(key) ?? [];
        if (same.some((k) => meets(it.c, k.c) && meets(it.s, k.s))) continue;
        same.push(it);
        set.set(key, same);
        placed = true;
        break;
      }
      if (!placed) sets.push(new Map([[key, [it]]]));
    }
  }
  return sets.map((m) => [...m.values()].flat().map((x) => x.e));
}
