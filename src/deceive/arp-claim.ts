import type { Frame } from '../capture/frame.js';
import { decodeFrame } from '../dissect/link.js';
import type { Message, PduContext } from '../dissect/message.js';
import { newPacket } from '../dissect/packet.js';
import { arp } from '../dissect/protocols/arp.js';

/**
 * How a device said an address is its own: a gratuitous ARP (sender and target address the same: a device
 * announcing itself at power-up or on a change), a reply, a request it sent from the address, or an RFC 5227
 * probe for it (from 0.0.0.0: a device about to take it).
 */
export type ArpClaimKind = 'gratuitous' | 'reply' | 'request' | 'probe';

export interface ArpClaim {
  address: string;
  /** The claimer's MAC (the ARP sender hardware address). */
  mac: string;
  kind: ArpClaimKind;
}

/** What the ARP watch heard: the sender's MAC and address (0.0.0.0 for a probe) and the address asked for. */
export interface ArpHeard {
  mac: string;
  sender: string;
  target: string;
  /** 1 request (a probe too), 2 reply. */
  op: number;
}

/** The ARP of a frame (sender MAC and address, target address, op), or null for any other frame. */
export function arpOf(f: Frame): ArpHeard | null {
  const pkt = newPacket();
  decodeFrame(f, pkt);
  if (pkt.etherType !== 0x0806) return null;
  const ctx: PduContext = {
    frame: f.index,
    ts: f.ts,
    transport: 'l2',
    srcMac: pkt.srcMac,
    dstMac: pkt.dstMac,
    srcIp: '',
    dstIp: '',
    srcPort: 0,
    dstPort: 0,
  };
  const out: Message[] = [];
  arp.dissect(pkt.data, pkt.payloadOffset, pkt.payloadLength, ctx, out);
  const m = out[0];
  if (m === undefined || m.anomaly !== null || m.fields === null) return null;
  return {
    mac: String(m.fields.sender_mac),
    sender: String(m.fields.sender_ip),
    target: String(m.fields.target_ip),
    op: m.func,
  };
}

/**
 * The claim an ARP frame makes on one of the `watched` addresses (address → the decoy MAC that holds it) by a MAC
 * that is none of `own` (every decoy's, so a decoy's own replies and probes are no claim); null for any other frame.
 */
export function arpClaim(
  f: Frame,
  watched: ReadonlyMap<string, string>,
  own: ReadonlySet<string>,
): ArpClaim | null {
  const a = arpOf(f);
  return a === null || own.has(a.mac) ? null : claimOf(a, watched);
}

/** The claim `a` (from a MAC not the decoys') makes on a `watched` address, or null. */
export function claimOf(a: ArpHeard, watched: ReadonlyMap<string, string>): ArpClaim | null {
  const { mac, sender, target } = a;
  if (watched.has(sender))
    return {
      address: sender,
      mac,
      kind: sender === target ? 'gratuitous' : a.op === 2 ? 'reply' : 'request',
    };
  if (sender === '0.0.0.0' && a.op === 1 && watched.has(target))
    return { address: target, mac, kind: 'probe' };
  return null;
}
