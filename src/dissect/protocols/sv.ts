// IEC 61850-9-2 Sampled Values (EtherType 0x88BA): merging units publish current and voltage samples thousands of
// times a second. Header (APPID, length, reserved words; the simulation bit in reserved1), then savPdu
// [APPLICATION 0] with noASDU and a sequence of ASDUs (svID, smpCnt, confRev, smpSynch, the sample data). One
// message per frame, carrying its first ASDU's names and counters.
import type { LinkDissector } from '../link-dissector.js';
import type { ProtocolDescriptor } from '../protocol.js';
import { markMalformed, newMessage, type Malformed } from '../message.js';
import { u16be } from '../bytes.js';
import { berInt, berString, newTlv, readTlv } from './ber.js';

export const SV_ANOMALIES = ['header_truncated', 'length_mismatch', 'pdu_malformed'] as const;
export type SvAnomaly = (typeof SV_ANOMALIES)[number];
const malformed: Malformed<SvAnomaly> = markMalformed;

export const SV_PUBLISH = 1;

export const sv: LinkDissector = {
  protocol: 'sv',
  dissect(b, off, len, ctx, out) {
    const m = newMessage(ctx, 'sv');
    m.role = 'broadcast';
    out.push(m);
    if (len < 8) {
      malformed(m, 'header_truncated', 'SV header truncated');
      return;
    }
    const appid = u16be(b, off),
      length = u16be(b, off + 2);
    m.unit = appid;
    const fields: Record<string, string | number | boolean> = {
      appid,
      simulation_bit: (u16be(b, off + 4) & 0x8000) !== 0,
    };
    m.fields = fields;
    if (length < 8 || length > len) {
      malformed(m, 'length_mismatch', `SV length ${length} does not fit the ${len}-byte frame`);
      if (length < 8) return;
    }
    const end = off + Math.min(length, len);
    const pdu = newTlv(),
      t = newTlv(),
      a = newTlv(),
      f = newTlv();
    if (!readTlv(b, off + 8, end, pdu) || pdu.cls !== 1 || pdu.tag !== 0) {
      malformed(m, 'pdu_malformed', 'savPdu is not [APPLICATION 0]');
      return;
    }
    m.func = SV_PUBLISH;
    m.funcName = 'publish';
    for (let o = pdu.value; o < pdu.end; o = t.end) {
      if (!readTlv(b, o, pdu.end, t)) {
        malformed(m, 'pdu_malformed', 'savPdu element overruns');
        return;
      }
      if (t.cls !== 2) continue;
      if (t.tag === 0) fields.no_asdu = berInt(b, t);
      else if (t.tag === 2 && t.constructed) {
        // seqASDU: the first ASDU's identity and counters.
        if (!readTlv(b, t.value, t.end, a)) {
          malformed(m, 'pdu_malformed', 'seqASDU without an ASDU');
          return;
        }
        for (let q = a.value; q < a.end && readTlv(b, q, a.end, f); q = f.end) {
          if (f.cls !== 2) continue;
          if (f.tag === 0) fields.sv_id = berString(b, f);
          else if (f.tag === 1) fields.dat_set = berString(b, f);
          else if (f.tag === 2) m.txId = fields.smp_cnt = berInt(b, f);
          else if (f.tag === 3) fields.conf_rev = berInt(b, f);
          else if (f.tag === 5) fields.smp_synch = berInt(b, f);
          else if (f.tag === 6) fields.smp_rate = berInt(b, f);
        }
      }
    }
    for (const k of ['no_asdu', 'smp_cnt', 'conf_rev', 'smp_synch', 'smp_rate'])
      if (Number.isNaN(fields[k])) {
        delete fields[k];
        m.anomaly ??= { kind: 'pdu_malformed', detail: `${k} is not an integer` };
      }
    if (Number.isNaN(m.txId)) m.txId = -1;
    if (typeof fields.sv_id === 'string') m.targets = [{ space: fields.sv_id, start: 0, count: 1 }];
  },
};

export const svProtocol: ProtocolDescriptor<SvAnomaly> = {
  name: 'sv',
  title: 'IEC 61850 Sampled Values',
  industrial: true,
  serverPort: null,
  ports: { tcp: [], udp: [] },
  etherTypes: [0x88ba],
  functions: { [SV_PUBLISH]: 'publish' },
  // Protection relays trip on the samples they receive: a publication acts like a control.
  category: () => 'control',
  operations: {},
  anomalies: SV_ANOMALIES,
  link: sv,
};
