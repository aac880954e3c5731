// IEC 61850-8-1 GOOSE (EtherType 0x88B8, usually 802.1Q tagged with priority 4): the multicast event messages
// that carry trips and interlocks between IEDs. Header (APPID, length, two reserved words: the simulation bit
// of Edition 2 is reserved1's top bit), then the BER goosePdu [APPLICATION 1]. The state and sequence numbers
// (stNum counts state changes, sqNum repeats within one) are what the goose detector checks.
import type { LinkDissector } from '../link-dissector.js';
import type { ProtocolDescriptor } from '../protocol.js';
import { markMalformed, newMessage, type Malformed, type Message } from '../message.js';
import { u16be, u32be } from '../bytes.js';
import { berInt, berString, newTlv, readTlv } from './ber.js';
import { collectData } from './mms-data.js';

export const GOOSE_ANOMALIES = [
  'header_truncated',
  'length_mismatch',
  'pdu_malformed',
  'missing_field',
] as const;
export type GooseAnomaly = (typeof GOOSE_ANOMALIES)[number];
const malformed: Malformed<GooseAnomaly> = markMalformed;

const GOOSE_PDU = 1; // [APPLICATION 1]
const MAX_VALUES = 256;
const MANDATORY: ReadonlyArray<[number, string]> = [
  [0, 'gocbRef'],
  [1, 'timeAllowedtoLive'],
  [2, 'datSet'],
  [4, 't'],
  [5, 'stNum'],
  [6, 'sqNum'],
  [8, 'confRev'],
  [10, 'numDatSetEntries'],
  [11, 'allData'],
];
/** The one function a GOOSE frame performs, so policies and profiles can name it. */
export const GOOSE_PUBLISH = 1;

/**
 * Hash of the dataset's encoded bytes (FNV-1a), so the detector can tell a state change (new data) from a
 * retransmission without keeping the bytes.
 */
function dataHash(b: Uint8Array, o: number, end: number): number {
  let h = 0x811c9dc5;
  for (let i = o; i < end; i++) h = Math.imul(h ^ b[i]!, 0x01000193);
  return h >>> 0;
}

/** UtcTime (IEC 61850-8-1): 4 bytes seconds, 3 bytes fraction of a second, 1 byte quality. */
function utcTime(b: Uint8Array, o: number): number {
  const frac = (b[o + 4]! * 65536 + b[o + 5]! * 256 + b[o + 6]!) / 16777216;
  return u32be(b, o) + Math.round(frac * 1e6) / 1e6;
}

export const goose: LinkDissector = {
  protocol: 'goose',
  dissect(b, off, len, ctx, out) {
    const m = newMessage(ctx, 'goose');
    m.role = 'broadcast';
    out.push(m);
    if (len < 8) {
      malformed(m, 'header_truncated', 'GOOSE header truncated');
      return;
    }
    const appid = u16be(b, off),
      length = u16be(b, off + 2),
      reserved1 = u16be(b, off + 4);
    m.unit = appid;
    const fields: Record<string, string | number | boolean> = {
      appid,
      simulation_bit: (reserved1 & 0x8000) !== 0,
    };
    m.fields = fields;
    // Ethernet pads short frames to 60 bytes: the length may be less than what was captured, never more.
    if (length < 8 || length > len) {
      malformed(m, 'length_mismatch', `GOOSE length ${length} does not fit the ${len}-byte frame`);
      if (length < 8) return;
    }
    const end = off + Math.min(length, len);
    const pdu = newTlv();
    if (!readTlv(b, off + 8, end, pdu) || pdu.cls !== 1 || pdu.tag !== GOOSE_PDU) {
      malformed(m, 'pdu_malformed', 'goosePdu is not [APPLICATION 1]');
      return;
    }
    m.func = GOOSE_PUBLISH;
    m.funcName = 'publish';
    const t = newTlv();
    let seen = 0;
    for (let o = pdu.value; o < pdu.end; o = t.end) {
      if (!readTlv(b, o, pdu.end, t)) {
        malformed(m, 'pdu_malformed', 'goosePdu element overruns');
        break;
      }
      if (t.cls !== 2) continue;
      seen |= 1 << t.tag;
      switch (t.tag) {
        case 0:
          fields.gocb_ref = berString(b, t);
          break;
        case 1:
          fields.time_allowed_to_live = berInt(b, t);
          break;
        case 2:
          fields.dat_set = berString(b, t);
          break;
        case 3:
          fields.go_id = berString(b, t);
          break;
        case 4:
          if (t.end - t.value === 8) fields.t = utcTime(b, t.value);
          break;
        case 5:
          fields.st_num = berInt(b, t);
          break;
        case 6:
          fields.sq_num = berInt(b, t);
          m.txId = fields.sq_num;
          break;
        case 7:
          fields.test = t.end > t.value && b[t.value] !== 0;
          break;
        case 8:
          fields.conf_rev = berInt(b, t);
          break;
        case 9:
          fields.nds_com = t.end > t.value && b[t.value] !== 0;
          break;
        case 10:
          fields.num_dat_set_entries = berInt(b, t);
          break;
        case 11: {
          const values: number[] = [];
          if (collectData(b, t.value, t.end, values, MAX_VALUES) < 0)
            malformed(m, 'pdu_malformed', 'allData is not BER');
          if (values.length) m.values = values;
          fields.data_hash = dataHash(b, t.value, t.end);
          break;
        }
      }
    }
    // goID is optional and test/ndsCom default to FALSE; every other element is mandatory.
    const missing = MANDATORY.filter(([tag]) => (seen & (1 << tag)) === 0).map(([, n]) => n);
    if (missing.length > 0 && m.anomaly === null)
      malformed(m, 'missing_field', `goosePdu lacks ${missing.join(', ')}`);
    for (const k of ['st_num', 'sq_num', 'time_allowed_to_live', 'conf_rev', 'num_dat_set_entries'])
      if (Number.isNaN(fields[k])) {
        delete fields[k];
        m.anomaly ??= { kind: 'pdu_malformed', detail: `${k} is not an integer` };
      }
    if (Number.isNaN(m.txId)) m.txId = -1;
    const space = (fields.dat_set as string | undefined) || (fields.gocb_ref as string | undefined);
    m.targets = [
      {
        space: space || `appid_0x${appid.toString(16).padStart(4, '0')}`,
        start: 0,
        count: typeof fields.num_dat_set_entries === 'number' ? fields.num_dat_set_entries : 0,
      },
    ];
  },
};

/** A publisher's messages: gocbRef names the control block, stNum/sqNum order them (see the goose detector). */
export function gooseKey(m: Message): string {
  return `${m.srcMac}|${m.unit}|${String(m.fields?.gocb_ref ?? '')}`;
}

export const gooseProtocol: ProtocolDescriptor<GooseAnomaly> = {
  name: 'goose',
  title: 'IEC 61850 GOOSE',
  industrial: true,
  serverPort: null,
  ports: { tcp: [], udp: [] },
  etherTypes: [0x88b8],
  functions: { [GOOSE_PUBLISH]: 'publish' },
  // A publication drives trips and interlocks at its subscribers: control, whoever sends it.
  category: () => 'control',
  operations: {},
  anomalies: GOOSE_ANOMALIES,
  link: goose,
};
