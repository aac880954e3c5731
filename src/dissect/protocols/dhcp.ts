import type { DatagramDissector, ProtocolDescriptor } from '../protocol.js';
import { newMessage, type IdentityFacts } from '../message.js';
import { ascii, macString, u32be, ipv4String } from '../bytes.js';

const TYPES = ['', 'DISCOVER', 'OFFER', 'REQUEST', 'DECLINE', 'ACK', 'NAK', 'RELEASE', 'INFORM'];
/** RFC 951 op codes, the only kind a plain BOOTP message (no option 53) has. */
const BOOTP_OPS = ['', 'BOOTREQUEST', 'BOOTREPLY'];

/** DHCP (BOOTP with options): host names, vendor classes and address assignments. */
export const dhcp: DatagramDissector = {
  protocol: 'dhcp',
  dissect(b, off, len, ctx, _toServer, out) {
    if (len < 240) return;
    if (u32be(b, off + 236) !== 0x63825363) return;
    const m = newMessage(ctx, 'dhcp');
    out.push(m);
    const op = b[off]!;
    m.txId = u32be(b, off + 4);
    const chaddr = b[off + 1] === 1 && b[off + 2] === 6 ? macString(b, off + 28) : '';
    const yiaddr = u32be(b, off + 16),
      ciaddr = u32be(b, off + 12);
    const fields: Record<string, string | number | boolean> = { client_mac: chaddr };
    const id: IdentityFacts = {};
    let p = off + 240;
    const end = off + len;
    let type = -1;
    while (p < end) {
      const code = b[p]!;
      if (code === 255) break;
      if (code === 0) {
        p++;
        continue;
      }
      if (p + 2 > end) {
        m.anomaly = { kind: 'option_truncated' satisfies DhcpAnomaly, detail: 'option truncated' };
        break;
      }
      const l = b[p + 1]!,
        v = p + 2;
      if (v + l > end) {
        m.anomaly = {
          kind: 'option_overrun' satisfies DhcpAnomaly,
          detail: `option ${code} overruns the packet`,
        };
        break;
      }
      switch (code) {
        case 53:
          if (l >= 1) type = b[v]!;
          break;
        case 12:
          id.hostname = ascii(b, v, l);
          break;
        case 60:
          fields.vendor_class = ascii(b, v, l);
          break;
        case 81:
          if (l > 3) fields.client_fqdn = ascii(b, v + 3, l - 3);
          break;
        case 50:
          if (l === 4) fields.requested_ip = ipv4String(u32be(b, v));
          break;
        case 54:
          if (l === 4) fields.server_id = ipv4String(u32be(b, v));
          break;
        case 3:
          if (l >= 4) fields.router = ipv4String(u32be(b, v));
          break;
        case 6:
          if (l >= 4) fields.dns_server = ipv4String(u32be(b, v));
          break;
        case 55:
          fields.param_list = Array.from(b.subarray(v, v + l)).join(',');
          break;
        default:
          break;
      }
      p = v + l;
    }
    // Without option 53 this is BOOTP (RFC 2132 §9.6): no DHCP message type, so no function code.
    m.func = type;
    m.funcName = type < 0 ? (BOOTP_OPS[op] ?? `BOOTP_OP_${op}`) : TYPES[type] || `TYPE_${type}`;
    m.role = op === 1 ? 'request' : 'response';
    m.fields = fields;
    if (fields.vendor_class) id.product = String(fields.vendor_class);
    if (chaddr) id.mac = chaddr;
    if (op === 1) {
      const ip =
        ciaddr !== 0
          ? ipv4String(ciaddr)
          : typeof fields.requested_ip === 'string'
            ? fields.requested_ip
            : undefined;
      if (ip) id.ip = ip;
    } else if (yiaddr !== 0) {
      // A server's OFFER/ACK describes the client it addresses.
      id.ip = ipv4String(yiaddr);
      id.about = 'dst';
      delete id.product;
    } else {
      return; // a server message without an assignment says nothing about a device
    }
    if (Object.keys(id).length) m.identity = id;
  },
};

/** Kinds of malformed DHCP PDU (the `kind` of a Message's anomaly). */
export const DHCP_ANOMALIES = ['option_truncated', 'option_overrun'] as const;
export type DhcpAnomaly = (typeof DHCP_ANOMALIES)[number];

export const dhcpProtocol: ProtocolDescriptor<DhcpAnomaly> = {
  name: 'dhcp',
  title: 'DHCP',
  industrial: false,
  serverPort: null,
  ports: { tcp: [], udp: [67, 68] },
  etherTypes: [],
  functions: {},
  operations: {},
  anomalies: DHCP_ANOMALIES,
  datagram: dhcp,
};
