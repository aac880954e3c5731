import type { DatagramDissector, ProtocolDescriptor } from '../protocol.js';
import { newMessage } from '../message.js';
import { u16be, u32be, ipv4String } from '../bytes.js';

const OPCODES: Record<number, string> = {
  0: 'QUERY',
  5: 'REGISTRATION',
  6: 'RELEASE',
  7: 'WACK',
  8: 'REFRESH',
  9: 'REFRESH_ALT',
  15: 'MULTI_HOMED_REGISTRATION',
};

/** NetBIOS first-level decoding: 32 letters 'A'..'P' → 16 bytes, the last one the service suffix. */
function netbiosName(
  b: Uint8Array,
  p: number,
  end: number,
): { name: string; suffix: number } | null {
  if (p + 33 > end || b[p] !== 32) return null;
  let s = '';
  let suffix = 0;
  for (let i = 0; i < 16; i++) {
    const hi = b[p + 1 + 2 * i]! - 0x41,
      lo = b[p + 2 + 2 * i]! - 0x41;
    if (hi < 0 || hi > 15 || lo < 0 || lo > 15) return null;
    const c = (hi << 4) | lo;
    if (i === 15) suffix = c;
    else s += c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : '';
  }
  return { name: s.trim(), suffix };
}

/** NetBIOS Name Service (UDP 137): Windows hosts (HMIs, engineering stations) announcing their names. */
export const nbns: DatagramDissector = {
  protocol: 'nbns',
  dissect(b, off, len, ctx, _toServer, out) {
    if (len < 12) return;
    const m = newMessage(ctx, 'nbns');
    out.push(m);
    const flags = u16be(b, off + 2);
    m.txId = u16be(b, off);
    m.func = (flags >> 11) & 0xf;
    m.funcName = OPCODES[m.func] ?? `OPCODE_${m.func}`;
    const response = (flags & 0x8000) !== 0;
    m.role = response ? 'response' : 'request';
    if (response && (flags & 0xf) !== 0) m.exception = flags & 0xf;
    const qd = u16be(b, off + 4),
      an = u16be(b, off + 6),
      ar = u16be(b, off + 10);
    const end = off + len;
    const n = netbiosName(b, off + 12, end);
    if (n === null) {
      if (qd + an > 0)
        m.anomaly = {
          kind: 'name_malformed' satisfies NbnsAnomaly,
          detail: 'NetBIOS name malformed',
        };
      return;
    }
    m.fields = { name: n.name, suffix: n.suffix };
    // Registrations/refreshes carry the name in the question and the owner address in an additional record.
    const registering =
      !response && (m.func === 5 || m.func === 8 || m.func === 9 || m.func === 15) && ar > 0;
    let rd = off + 12 + 34 + (qd > 0 ? 4 : 0);
    if (qd > 0 && an + ar > 0 && rd + 2 <= end && (b[rd]! & 0xc0) === 0xc0) rd += 2;
    else if (qd === 0) rd = off + 12 + 34;
    // RR: type, class, ttl, rdlength, then NB flags + address.
    if (rd + 16 <= end) {
      const ip = ipv4String(u32be(b, rd + 12));
      m.fields.address = ip;
      if (
        (registering || (response && an > 0 && m.func === 0)) &&
        ip === ctx.srcIp &&
        n.suffix !== 0x1b &&
        n.suffix !== 0x1c
      ) {
        m.identity = { hostname: n.name };
      } else if (registering && ip !== '0.0.0.0') {
        m.identity = { hostname: n.name, ip };
      }
    }
  },
};

/** Kinds of malformed NetBIOS Name Service PDU (the `kind` of a Message's anomaly). */
export const NBNS_ANOMALIES = ['name_malformed'] as const;
export type NbnsAnomaly = (typeof NBNS_ANOMALIES)[number];

export const nbnsProtocol: ProtocolDescriptor<NbnsAnomaly> = {
  name: 'nbns',
  title: 'NetBIOS Name Service',
  industrial: false,
  serverPort: null,
  ports: { tcp: [], udp: [137] },
  etherTypes: [],
  functions: {},
  operations: {},
  anomalies: NBNS_ANOMALIES,
  datagram: nbns,
};
