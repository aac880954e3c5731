import type { LinkDissector } from '../link-dissector.js';
import type { ProtocolDescriptor } from '../protocol.js';
import { newMessage } from '../message.js';
import { macString, u16be, u32be, ipv4String } from '../bytes.js';

/** ARP over Ethernet/IPv4: who owns which address. The sender pair is what a device claims about itself. */
export const arp: LinkDissector = {
  protocol: 'arp',
  dissect(b, off, len, ctx, out) {
    if (len < 8) return;
    const m = newMessage(ctx, 'arp');
    out.push(m);
    const htype = u16be(b, off),
      ptype = u16be(b, off + 2),
      hlen = b[off + 4]!,
      plen = b[off + 5]!;
    const op = u16be(b, off + 6);
    m.func = op;
    m.funcName = op === 1 ? 'REQUEST' : op === 2 ? 'REPLY' : `OPCODE_${op}`;
    m.role = op === 1 ? 'request' : op === 2 ? 'response' : 'unknown';
    if (htype !== 1 || ptype !== 0x0800 || hlen !== 6 || plen !== 4) {
      m.anomaly = {
        kind: 'unsupported' satisfies ArpAnomaly,
        detail: `unsupported ARP (htype ${htype}, ptype 0x${ptype.toString(16)})`,
      };
      return;
    }
    if (len < 28) {
      m.anomaly = { kind: 'truncated' satisfies ArpAnomaly, detail: 'ARP truncated' };
      return;
    }
    const sha = macString(b, off + 8),
      spa = ipv4String(u32be(b, off + 14));
    const tha = macString(b, off + 18),
      tpa = ipv4String(u32be(b, off + 24));
    const gratuitous = spa === tpa;
    m.fields = { sender_mac: sha, sender_ip: spa, target_mac: tha, target_ip: tpa, gratuitous };
    m.targets = op === 1 ? [{ space: 'ipv4', start: u32be(b, off + 24), count: 1 }] : null;
    if (spa !== '0.0.0.0') m.identity = { ip: spa, mac: sha };
    if (sha !== ctx.srcMac && ctx.srcMac !== '') m.fields.sender_differs_from_ethernet = true;
  },
};

/** Kinds of malformed ARP PDU (the `kind` of a Message's anomaly). */
export const ARP_ANOMALIES = ['unsupported', 'truncated'] as const;
export type ArpAnomaly = (typeof ARP_ANOMALIES)[number];

export const arpProtocol: ProtocolDescriptor<ArpAnomaly> = {
  name: 'arp',
  title: 'ARP',
  industrial: false,
  serverPort: null,
  ports: { tcp: [], udp: [] },
  etherTypes: [0x0806],
  functions: {},
  operations: {},
  anomalies: ARP_ANOMALIES,
  link: arp,
};
