import type { DatagramDissector, ProtocolDescriptor } from '../protocol.js';
import { newMessage } from '../message.js';
import { u16be, u32be, ipv4String, ipv6String } from '../bytes.js';
import { readName } from './dns-name.js';

const OPCODES = ['QUERY', 'IQUERY', 'STATUS', 'OPCODE_3', 'NOTIFY', 'UPDATE'];

/**
 * DNS and mDNS: names for addresses. An mDNS answer for the sender's own address is the device naming
 * itself; ordinary DNS answers describe third hosts and stay in fields.
 */
export const dns: DatagramDissector = {
  protocol: 'dns',
  dissect(b, off, len, ctx, _toServer, out) {
    if (len < 12) return;
    const m = newMessage(ctx, 'dns');
    out.push(m);
    const flags = u16be(b, off + 2);
    const qd = u16be(b, off + 4),
      an = u16be(b, off + 6) + u16be(b, off + 8) + u16be(b, off + 10);
    m.txId = u16be(b, off);
    m.func = (flags >> 11) & 0xf;
    m.funcName = OPCODES[m.func] ?? `OPCODE_${m.func}`;
    m.role = flags & 0x8000 ? 'response' : 'request';
    if (flags & 0x8000 && (flags & 0xf) !== 0) m.exception = flags & 0xf;
    const end = off + len;
    let p = off + 12;
    const fields: Record<string, string | number | boolean> = {};
    m.fields = fields;
    for (let i = 0; i < qd && i < 16; i++) {
      const n = readName(b, off, p, end);
      if (n === null || n.next + 4 > end) {
        m.anomaly = {
          kind: 'question_malformed' satisfies DnsAnomaly,
          detail: 'question malformed',
        };
        return;
      }
      if (i === 0) fields.query = n.name;
      p = n.next + 4;
    }
    const answers: string[] = [];
    const mdns = ctx.srcPort === 5353 || ctx.dstPort === 5353;
    for (let i = 0; i < an && i < 64; i++) {
      const n = readName(b, off, p, end);
      if (n === null || n.next + 10 > end) {
        if (i === 0 && an > 0)
          m.anomaly = { kind: 'answer_malformed' satisfies DnsAnomaly, detail: 'answer malformed' };
        break;
      }
      const type = u16be(b, n.next),
        rdlen = u16be(b, n.next + 8),
        rd = n.next + 10;
      if (rd + rdlen > end) {
        m.anomaly = { kind: 'answer_overrun' satisfies DnsAnomaly, detail: 'answer data overruns' };
        break;
      }
      let addr = '';
      if (type === 1 && rdlen === 4) addr = ipv4String(u32be(b, rd));
      else if (type === 28 && rdlen === 16) addr = ipv6String(b, rd);
      if (addr) {
        answers.push(`${n.name}=${addr}`);
        if (mdns && addr === ctx.srcIp && m.identity === null)
          m.identity = { hostname: n.name.replace(/\.local\.?$/i, '') };
      }
      p = rd + rdlen;
    }
    if (answers.length) fields.answers = answers.join(' ');
  },
};

/** Kinds of malformed DNS PDU (the `kind` of a Message's anomaly). */
export const DNS_ANOMALIES = ['question_malformed', 'answer_malformed', 'answer_overrun'] as const;
export type DnsAnomaly = (typeof DNS_ANOMALIES)[number];

export const dnsProtocol: ProtocolDescriptor<DnsAnomaly> = {
  name: 'dns',
  title: 'DNS',
  industrial: false,
  serverPort: null,
  ports: { tcp: [], udp: [53, 5353] },
  etherTypes: [],
  functions: {},
  operations: {},
  anomalies: DNS_ANOMALIES,
  datagram: dns,
};
