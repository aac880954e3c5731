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

/**
 * The claim an ARP frame makes on one of the `watched` addresses (address → the decoy MAC that holds it) by a MAC
 * that is none of `own` (every decoy's, so a decoy's own replies and probes are no claim); null for any other frame.
 */
export function arpClaim(
  f: Frame,
  watched: ReadonlyMap<string, string>,
  own: ReadonlySet<string>,
): ArpClaim | null {
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
  const mac = String(m.fields.sender_mac);
  const sender = String(m.fields.sender_ip);
  const target = String(m.fields.target_ip);
  if (own.has(mac)) return null;
  if (watched.has(sender))
    return {
      address: sender,
      mac,
      kind: sender === target ? 'gratuitous' : m.func === 2 ? 'reply' : 'request',
    };
  if (sender === '0.0.0.0' && m.func === 1 && watched.has(target))
    return { address: target, mac, kind: 'probe' };
  return null;
}
