import { ETHERTYPE_CDP, type LinkDissector } from '../link-dissector.js';
import type { ProtocolDescriptor } from '../protocol.js';
import { newMessage, type IdentityFacts } from '../message.js';
import { ascii, u16be, u32be, ipv4String } from '../bytes.js';

/** Cisco Discovery Protocol (over LLC/SNAP): version, TTL, checksum, then TLVs. */
export const cdp: LinkDissector = {
  protocol: 'cdp',
  dissect(b, off, len, ctx, out) {
    if (len < 4) return;
    const m = newMessage(ctx, 'cdp');
    out.push(m);
    m.role = 'broadcast';
    m.func = b[off]!;
    m.funcName = `CDPv${b[off]}`;
    const id: IdentityFacts = {};
    const fields: Record<string, string | number | boolean> = { ttl: b[off + 1]! };
    let p = off + 4;
    const end = off + len;
    while (p + 4 <= end) {
      const type = u16be(b, p),
        tlen = u16be(b, p + 2);
      if (tlen < 4 || p + tlen > end) {
        m.anomaly = {
          kind: 'tlv_length_invalid' satisfies CdpAnomaly,
          detail: `TLV ${type} length ${tlen} invalid`,
        };
        break;
      }
      const v = p + 4,
        vlen = tlen - 4;
      switch (type) {
        case 1:
          id.hostname = ascii(b, v, vlen);
          break;
        case 2: {
          // addresses: count, then (proto type, proto len, proto, addr len, addr)
          const n = vlen >= 4 ? u32be(b, v) : 0;
          let q = v + 4;
          for (let i = 0; i < n && q + 2 <= v + vlen; i++) {
            const pl = b[q + 1]!;
            const al = q + 2 + pl + 2 <= v + vlen ? u16be(b, q + 2 + pl) : 0;
            if (pl === 1 && b[q + 2] === 0xcc && al === 4 && q + 4 + pl + 4 <= v + vlen) {
              id.ip ??= ipv4String(u32be(b, q + 4 + pl));
            }
            q += 2 + pl + 2 + al;
          }
          break;
        }
        case 3:
          fields.port_id = ascii(b, v, vlen);
          break;
        case 4:
          if (vlen >= 4) {
            const c = u32be(b, v);
            const names = [
              [1, 'router'],
              [2, 'bridge'],
              [8, 'switch'],
              [0x10, 'host'],
              [0x40, 'repeater'],
              [0x80, 'phone'],
            ] as const;
            id.deviceType = names
              .filter(([bit]) => c & bit)
              .map(([, n]) => n)
              .join(',');
          }
          break;
        case 5: {
          const s = ascii(b, v, vlen);
          fields.software = s;
          const fw = /Version\s+([\w.()-]+)/i.exec(s);
          id.firmware = fw ? fw[1] : s.split('\n')[0]!.slice(0, 60);
          break;
        }
        case 6:
          id.model = ascii(b, v, vlen);
          break;
        default:
          break;
      }
      p += tlen;
    }
    id.vendor = 'Cisco';
    m.fields = fields;
    m.identity = id;
  },
};

/** Kinds of malformed CDP PDU (the `kind` of a Message's anomaly). */
export const CDP_ANOMALIES = ['tlv_length_invalid'] as const;
export type CdpAnomaly = (typeof CDP_ANOMALIES)[number];

export const cdpProtocol: ProtocolDescriptor<CdpAnomaly> = {
  name: 'cdp',
  title: 'CDP',
  industrial: false,
  serverPort: null,
  ports: { tcp: [], udp: [] },
  etherTypes: [ETHERTYPE_CDP],
  functions: {},
  operations: {},
  anomalies: CDP_ANOMALIES,
  link: cdp,
};
