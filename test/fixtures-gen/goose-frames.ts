// IEC 61850-8-1 GOOSE frames crafted from the standard (802.1Q priority 4, EtherType 0x88B8, BER goosePdu): a
// breaker-failure trip publisher in normal operation, and the forgeries the goose detector looks for.
import { ethernet, pcap } from './pcap-writer.js';
import { ber } from './mms-session.js';

export const PUBLISHER = '02:00:5e:85:00:01';
export const TESTER = '02:00:5e:85:00:02';
const MULTICAST = '01:0c:cd:01:00:01';
export const GOCB = 'IED1PROT/LLN0$GO$gcbTrip';

export interface Publication {
  st: number;
  sq: number;
  /** The dataset: trip (boolean) and its quality bit-string. */
  trip: boolean;
  /** Event time (seconds since 1970) carried in t. */
  t: number;
  test?: boolean;
  simulation?: boolean;
  src?: string;
  appid?: number;
  gocbRef?: string;
  vlan?: number | null;
}

const u32 = (v: number): number[] => [(v >>> 24) & 255, (v >>> 16) & 255, (v >>> 8) & 255, v & 255];
const int = (tag: number, v: number): Buffer => {
  const bytes = u32(v);
  while (bytes.length > 1 && bytes[0] === 0 && !(bytes[1]! & 0x80)) bytes.shift();
  if (bytes[0]! & 0x80) bytes.unshift(0);
  return ber(tag, bytes);
};
const str = (tag: number, s: string): Buffer => ber(tag, Buffer.from(s, 'latin1'));

function utcTime(t: number): number[] {
  const secs = Math.floor(t);
  const frac = Math.floor((t - secs) * 16777216);
  return [...u32(secs), (frac >> 16) & 255, (frac >> 8) & 255, frac & 255, 0x0a];
}

/** One GOOSE frame. */
export function gooseFrame(p: Publication): Buffer {
  const gocbRef = p.gocbRef ?? GOCB;
  const pdu = ber(
    0x61,
    str(0x80, gocbRef),
    int(0x81, 2000),
    str(0x82, 'IED1PROT/LLN0$TripDs'),
    str(0x83, 'IED1_TRIP'),
    ber(0x84, utcTime(p.t)),
    int(0x85, p.st),
    int(0x86, p.sq),
    ber(0x87, [p.test ? 0xff : 0]),
    int(0x88, 3),
    ber(0x89, [0]),
    int(0x8a, 2),
    ber(0xab, ber(0x83, [p.trip ? 1 : 0]), ber(0x84, [0x03, 0x00, 0x00])),
  );
  const appid = p.appid ?? 0x3001;
  const header = Buffer.alloc(8);
  header.writeUInt16BE(appid, 0);
  header.writeUInt16BE(8 + pdu.length, 2);
  header.writeUInt16BE(p.simulation ? 0x8000 : 0, 4);
  const goose = Buffer.concat([header, pdu]);
  const vlan = p.vlan === undefined ? 10 : p.vlan;
  if (vlan === null) return ethernet(MULTICAST, p.src ?? PUBLISHER, 0x88b8, goose);
  const tag = Buffer.from([0x80 | (vlan >> 8), vlan & 255, 0x88, 0xb8]);
  return ethernet(MULTICAST, p.src ?? PUBLISHER, 0x8100, Buffer.concat([tag, goose]));
}

const T0 = 1_767_225_600;

/** Normal operation: retransmissions (sqNum up), one trip (stNum up, sqNum to 0), then the publisher restarts. */
export function gooseNormal(): Buffer {
  const pubs: Publication[] = [];
  for (let sq = 0; sq < 5; sq++) pubs.push({ st: 7, sq, trip: false, t: T0 });
  for (let sq = 0; sq < 5; sq++) pubs.push({ st: 8, sq, trip: true, t: T0 + 0.5 });
  // Restarted IED (untagged this time): stNum 1, sqNum 0, a current time.
  for (let sq = 0; sq < 3; sq++) pubs.push({ st: 1, sq, trip: false, t: T0 + 2, vlan: null });
  return pcap(pubs.map(gooseFrame), T0, 0.1);
}

/** Each forgery the detector knows, once, in this order; then another IED in test mode. */
export const ATTACK_KINDS = [
  'data_without_st',
  'sq_not_increasing',
  'st_without_data',
  'st_jump',
  'old_st',
  'test_mode',
] as const;

export function gooseAttacks(): Buffer {
  const pubs: Publication[] = [
    { st: 7, sq: 0, trip: false, t: T0 },
    { st: 7, sq: 1, trip: false, t: T0 },
    { st: 8, sq: 0, trip: true, t: T0 + 0.2 },
    { st: 8, sq: 1, trip: true, t: T0 + 0.2 },
    // data_without_st: the trip is cleared without a new stNum
    { st: 8, sq: 2, trip: false, t: T0 + 0.2 },
    { st: 8, sq: 3, trip: false, t: T0 + 0.2 },
    // sq_not_increasing: the same frame again
    { st: 8, sq: 3, trip: false, t: T0 + 0.2 },
    // st_without_data: a new stNum carrying the data of the last
    { st: 9, sq: 0, trip: false, t: T0 + 0.7 },
    // st_jump: a forged trip far ahead, so subscribers take it
    { st: 50, sq: 0, trip: true, t: T0 + 0.8 },
    // old_st: an earlier publication replayed
    { st: 9, sq: 1, trip: false, t: T0 + 0.7 },
    // test_mode: another IED publishing with the test flag
    {
      st: 1,
      sq: 0,
      trip: false,
      t: T0 + 1,
      test: true,
      src: TESTER,
      gocbRef: 'IED2PROT/LLN0$GO$gcbTrip',
      appid: 0x3002,
    },
  ];
  return pcap(pubs.map(gooseFrame), T0, 0.1);
}

/** An IEC 61850-9-2 Sampled Values frame (802.1Q priority 4): one ASDU of four currents and four voltages. */
export function svFrame(
  smpCnt: number,
  opts: { vlan?: boolean; simulation?: boolean } = {},
): Buffer {
  const seqData = Buffer.alloc(64);
  for (let i = 0; i < 8; i++) seqData.writeInt32BE((i + 1) * 1000 + smpCnt, i * 8);
  const asdu = ber(
    0x30,
    str(0x80, 'MU01_SV'),
    ber(0x82, [(smpCnt >> 8) & 255, smpCnt & 255]),
    ber(0x83, u32(1)),
    ber(0x85, [2]),
    ber(0x87, seqData),
  );
  const pdu = ber(0x60, ber(0x80, [1]), ber(0xa2, asdu));
  const header = Buffer.alloc(8);
  header.writeUInt16BE(0x4001, 0);
  header.writeUInt16BE(8 + pdu.length, 2);
  header.writeUInt16BE(opts.simulation ? 0x8000 : 0, 4);
  const payload = Buffer.concat([header, pdu]);
  const dst = '01:0c:cd:04:00:01';
  if (opts.vlan === false) return ethernet(dst, '02:00:5e:9a:00:01', 0x88ba, payload);
  const tag = Buffer.from([0x80, 0x0a, 0x88, 0xba]);
  return ethernet(dst, '02:00:5e:9a:00:01', 0x8100, Buffer.concat([tag, payload]));
}

/** A merging unit's stream: consecutive sample counts, the last untagged and flagged simulation. */
export function svStream(): Buffer {
  const frames = [0, 1, 2, 3].map((n) => svFrame(n));
  frames.push(svFrame(4, { vlan: false, simulation: true }));
  return pcap(frames, T0, 0.00025);
}
