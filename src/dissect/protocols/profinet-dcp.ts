import type { LinkDissector } from '../link-dissector.js';
import type { ProtocolDescriptor } from '../protocol.js';
import { newMessage, type IdentityFacts } from '../message.js';
import { ascii, u16be, u32be, ipv4String } from '../bytes.js';

const SERVICES: Record<number, string> = { 3: 'GET', 4: 'SET', 5: 'IDENTIFY', 6: 'HELLO' };
const ROLES = ['io-device', 'io-controller', 'io-multidevice', 'io-supervisor'];

/** Profinet DCP (frame ids 0xfefc–0xfeff): device naming and addressing; cyclic RT frames are skipped. */
export const profinetDcp: LinkDissector = {
  protocol: 'profinet_dcp',
  dissect(b, off, len, ctx, out) {
    if (len < 12) return;
    const frameId = u16be(b, off);
    if (frameId < 0xfefc || frameId > 0xfeff) return;
    const m = newMessage(ctx, 'profinet_dcp');
    out.push(m);
    const svc = b[off + 2]!,
      type = b[off + 3]!;
    m.func = svc;
    m.subfunc = type;
    m.funcName = `${SERVICES[svc] ?? `SERVICE_${svc}`}_${type === 0 ? 'REQUEST' : 'RESPONSE'}`;
    m.txId = u32be(b, off + 4);
    const response = type !== 0;
    m.role = response ? 'response' : frameId === 0xfefe ? 'broadcast' : 'request';
    if (type === 5) m.exception = 5;
    m.write = svc === 4 && !response;
    const dlen = u16be(b, off + 10);
    const end = Math.min(off + len, off + 12 + dlen);
    if (off + 12 + dlen > off + len)
      m.anomaly = {
        kind: 'data_length_overrun' satisfies ProfinetDcpAnomaly,
        detail: 'DCP data length overruns the frame',
      };
    const id: IdentityFacts = {};
    const fields: Record<string, string | number | boolean> = {};
    let p = off + 12;
    while (p + 4 <= end) {
      const opt = b[p]!,
        sub = b[p + 1]!,
        blen = u16be(b, p + 2);
      const v = p + 4;
      if (v + blen > end) {
        m.anomaly = {
          kind: 'block_overrun' satisfies ProfinetDcpAnomaly,
          detail: `DCP block ${opt}/${sub} overruns`,
        };
        break;
      }
      // Responses and Set requests carry 2 bytes of block info/qualifier before the value.
      const d = response || svc === 4 ? v + 2 : v,
        dl = response || svc === 4 ? blen - 2 : blen;
      if (dl >= 0) {
        if (opt === 2 && sub === 2) {
          id.hostname = ascii(b, d, dl);
          fields.name_of_station = id.hostname;
        } else if (opt === 2 && sub === 1) {
          id.product = ascii(b, d, dl);
          fields.type_of_station = id.product;
        } else if (opt === 2 && sub === 3 && dl >= 4) {
          fields.vendor_id = u16be(b, d);
          fields.device_id = u16be(b, d + 2);
        } else if (opt === 2 && sub === 4 && dl >= 1) {
          const r = b[d]!;
          id.deviceType = ROLES.filter((_, i) => r & (1 << i)).join(',') || `role_${r}`;
        } else if (opt === 1 && sub === 2 && dl >= 12) {
          const ip = u32be(b, d);
          if (ip !== 0) id.ip = ipv4String(ip);
          fields.netmask = ipv4String(u32be(b, d + 4));
          fields.gateway = ipv4String(u32be(b, d + 8));
        }
      }
      p = v + blen + (blen & 1);
    }
    m.fields = fields;
    // Identify requests name the device sought, not the sender; Set requests describe the target.
    if (Object.keys(id).length && (response || frameId === 0xfefc)) m.identity = id;
    else if (Object.keys(id).length && svc === 4) m.identity = { ...id, about: 'dst' };
  },
};

/** Kinds of malformed PROFINET DCP PDU (the `kind` of a Message's anomaly). */
export const PROFINET_DCP_ANOMALIES = ['data_length_overrun', 'block_overrun'] as const;
export type ProfinetDcpAnomaly = (typeof PROFINET_DCP_ANOMALIES)[number];

export const profinetDcpProtocol: ProtocolDescriptor<ProfinetDcpAnomaly> = {
  name: 'profinet_dcp',
  title: 'PROFINET DCP',
  industrial: false,
  serverPort: null,
  ports: { tcp: [], udp: [] },
  etherTypes: [0x8892],
  functions: {},
  operations: {},
  anomalies: PROFINET_DCP_ANOMALIES,
  link: profinetDcp,
};
