import type { LinkDissector } from '../link-dissector.js';
import type { ProtocolDescriptor } from '../protocol.js';
import { newMessage, type IdentityFacts } from '../message.js';
import { ascii, macString, u16be, u32be, ipv4String } from '../bytes.js';

const CAPABILITIES = [
  'other',
  'repeater',
  'bridge',
  'wlan-ap',
  'router',
  'telephone',
  'docsis',
  'station',
];

/** LLDP (IEEE 802.1AB): a switch or device describing itself in TLVs. */
export const lldp: LinkDissector = {
  protocol: 'lldp',
  dissect(b, off, len, ctx, out) {
    const m = newMessage(ctx, 'lldp');
    out.push(m);
    m.role = 'broadcast';
    const id: IdentityFacts = {};
    const fields: Record<string, string | number | boolean> = {};
    let p = off;
    const end = off + len;
    while (p + 2 <= end) {
      const h = u16be(b, p);
      const type = h >> 9,
        tlen = h & 0x1ff;
      p += 2;
      if (type === 0) break;
      if (p + tlen > end) {
        m.anomaly = {
          kind: 'tlv_overrun' satisfies LldpAnomaly,
          detail: `TLV ${type} overruns the frame`,
        };
        break;
      }
      switch (type) {
        case 1:
          fields.chassis_id =
            tlen > 1 && b[p] === 4 && tlen === 7 ? macString(b, p + 1) : ascii(b, p + 1, tlen - 1);
          break;
        case 2:
          fields.port_id =
            tlen === 7 && b[p] === 3 ? macString(b, p + 1) : ascii(b, p + 1, tlen - 1);
          break;
        case 3:
          if (tlen >= 2) fields.ttl = u16be(b, p);
          break;
        case 4:
          fields.port_description = ascii(b, p, tlen);
          break;
        case 5:
          id.hostname = ascii(b, p, tlen);
          break;
        case 6: {
          const d = ascii(b, p, tlen);
          fields.sys_desc = d;
          // Industrial switches write "Vendor, family, model, order number, HW: …, FW: …".
          const parts = d
            .split(/[,;]/)
            .map((x) => x.trim())
            .filter(Boolean);
          if (parts.length >= 3) {
            id.vendor = parts[0];
            id.product = parts
              .slice(1)
              .filter((x) => !/^(HW|FW|SW)\b/i.test(x))
              .join(', ')
              .slice(0, 80);
          } else id.product = d.slice(0, 80);
          const fw = /\b(?:V|version\s*)(\d+(?:\.\d+){1,3})/i.exec(d);
          if (fw) id.firmware = fw[1];
          break;
        }
        case 7:
          if (tlen >= 4) {
            const enabled = u16be(b, p + 2);
            const caps = CAPABILITIES.filter((_, i) => enabled & (1 << i));
            if (caps.length) id.deviceType = caps.join(',');
          }
          break;
        case 8:
          if (tlen >= 7 && b[p + 1] === 1 && b[p] === 5) id.ip = ipv4String(u32be(b, p + 2));
          break;
        default:
          break;
      }
      p += tlen;
    }
    m.fields = fields;
    if (Object.keys(id).length) m.identity = id;
  },
};

/** Kinds of malformed LLDP PDU (the `kind` of a Message's anomaly). */
export const LLDP_ANOMALIES = ['tlv_overrun'] as const;
export type LldpAnomaly = (typeof LLDP_ANOMALIES)[number];

export const lldpProtocol: ProtocolDescriptor<LldpAnomaly> = {
  name: 'lldp',
  title: 'LLDP',
  industrial: false,
  serverPort: null,
  ports: { tcp: [], udp: [] },
  etherTypes: [0x88cc],
  functions: {},
  operations: {},
  anomalies: LLDP_ANOMALIES,
  link: lldp,
};
