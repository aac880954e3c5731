import type { Message } from '../dissect/message.js';
import { edgeId } from './edge-table.js';

/** Registers tracked per edge at most: value learning must stay bounded on odd traffic. */
const MAX_POINTS_PER_EDGE = 4096;
/** Requests awaiting their response, per edge. */
const MAX_PENDING = 256;

/** The edge id a message belongs to, in Inventory's form (client > server / transport / server port). */
export function messageEdgeId(m: Message): string {
  const toServer = m.role !== 'response';
  const client = toServer ? m.srcIp : m.dstIp,
    server = toServer ? m.dstIp : m.srcIp;
  return edgeId(
    client,
    server,
    m.transport === 'udp' ? 'udp' : 'tcp',
    toServer ? m.dstPort : m.srcPort,
    0,
  );
}

/** Where a message's values sit: address space and the address of values[0]. */
export interface Placement {
  space: string;
  start: number;
}

/** Read requests of one edge awaiting their response, by transaction id. */
export type PendingReads = Map<number, Placement>;

/**
 * Place the process values of a message on addresses: values written by a request sit on its target;
 * values in a read response sit on the target of the request with the same transaction id (kept in
 * `pending`, one map per edge, owned by the caller).
 */
export function placeValues(m: Message, pending: PendingReads): Placement | null {
  const t0 = m.targets !== null && m.targets.length > 0 ? m.targets[0]! : null;
  if (m.role === 'request' && t0 !== null && m.txId !== -1 && !m.write) {
    if (pending.size >= MAX_PENDING) pending.clear();
    pending.set(m.txId, t0); // the message's own target: no allocation on the hot path
  }
  if (m.values === null || m.values.length === 0) return null;
  if (t0 !== null && m.values.length <= t0.count) return t0;
  if (m.role !== 'response' || m.txId === -1) return null;
  const req = pending.get(m.txId);
  if (req === undefined) return null;
  pending.delete(m.txId);
  return req;
}

/** Learns the observed range of each register/point per edge. */
export class ValueRanges {
  private readonly byEdge = new Map<string, Map<string, [number, number]>>();
  private readonly pending = new Map<string, PendingReads>();

  onMessage(m: Message): void {
    if (m.values === null && m.targets === null) return;
    const edge = messageEdgeId(m);
    let pend = this.pending.get(edge);
    if (pend === undefined) {
      pend = new Map();
      this.pending.set(edge, pend);
    }
    const at = placeValues(m, pend);
    if (at === null) return;
    let r = this.byEdge.get(edge);
    if (r === undefined) {
      r = new Map();
      this.byEdge.set(edge, r);
    }
    const values = m.values!;
    for (let i = 0; i < values.length; i++) {
      const k = `${at.space}:${at.start + i}`;
      const v = values[i]!;
      const cur = r.get(k);
      if (cur === undefined) {
        if (r.size < MAX_POINTS_PER_EDGE) r.set(k, [v, v]);
      } else {
        if (v < cur[0]) cur[0] = v;
        if (v > cur[1]) cur[1] = v;
      }
    }
  }

  /** Ranges per edge id, as plain records for the baseline. */
  ranges(): Map<string, Record<string, [number, number]>> {
    const out = new Map<string, Record<string, [number, number]>>();
    for (const [id, r] of this.byEdge) out.set(id, Object.fromEntries(r));
    return out;
  }
}
