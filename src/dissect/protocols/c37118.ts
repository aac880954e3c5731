// IEEE C37.118.2 synchrophasor frames (TCP 4712, UDP 4713): SYNC (0xAA, frame type, version), FRAMESIZE,
// IDCODE (the PMU or PDC stream id), SOC and FRACSEC (time stamp), the frame body, CRC-CCITT. Command frames
// from the PDC turn the PMU's data stream off or on and ask for its header or configuration; configuration
// frames name the stations (identity).
import type {
  DatagramDissector,
  FunctionCategory,
  ProtocolDescriptor,
  StreamDissector,
} from '../protocol.js';
import {
  markMalformed,
  newMessage,
  type Malformed,
  type Message,
  type PduContext,
} from '../message.js';
import { ascii, u16be, u32be } from '../bytes.js';

export const C37118_ANOMALIES = [
  'frame_truncated',
  'bad_sync',
  'checksum',
  'config_truncated',
] as const;
export type C37118Anomaly = (typeof C37118_ANOMALIES)[number];
const malformed: Malformed<C37118Anomaly> = markMalformed;

const SYNC = 0xaa;
const MIN_FRAME = 16; // 14-byte common header + CRC
const MAX_FRAME = 65535;

/** Frame types (SYNC bits 6–4). */
export const FRAME_TYPES: Readonly<Record<number, string>> = {
  0: 'data',
  1: 'header',
  2: 'config1',
  3: 'config2',
  4: 'command',
  5: 'config3',
};
const TYPE_COMMAND = 4;
/** Weir numbers a command frame 0x10 + its CMD word, so each command has its own function. */
export const COMMAND_BASE = 0x10;
const COMMANDS: Readonly<Record<number, string>> = {
  1: 'turn_off_transmission',
  2: 'turn_on_transmission',
  3: 'send_header',
  4: 'send_config1',
  5: 'send_config2',
  6: 'send_config3',
  8: 'extended_frame',
};

export const C37118_FUNCTIONS: Readonly<Record<number, string>> = {
  ...Object.fromEntries(Object.entries(FRAME_TYPES).filter(([k]) => Number(k) !== TYPE_COMMAND)),
  ...Object.fromEntries(Object.entries(COMMANDS).map(([k, v]) => [COMMAND_BASE + Number(k), v])),
};

/** CRC-CCITT (polynomial 0x1021, initial 0xFFFF), as C37.118.2 Annex B computes CHK. */
function crcCcitt(b: Uint8Array, o: number, end: number): number {
  let crc = 0xffff;
  for (let i = o; i < end; i++) {
    crc ^= b[i]! << 8;
    for (let k = 0; k < 8; k++)
      crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}

/** One whole frame at `off` (`len` = FRAMESIZE or what the datagram holds). */
function frame(
  b: Uint8Array,
  off: number,
  len: number,
  ctx: PduContext,
  toServer: boolean,
  out: Message[],
): void {
  const m = newMessage(ctx, 'c37118');
  m.role = toServer ? 'request' : 'response';
  out.push(m);
  if (len < 2 || b[off] !== SYNC || (b[off + 1]! & 0x80) !== 0) {
    malformed(m, 'bad_sync', 'frame does not start with SYNC 0xAA');
    return;
  }
  if (len < MIN_FRAME) {
    malformed(m, 'frame_truncated', `frame of ${len} bytes is shorter than the common header`);
    return;
  }
  const type = (b[off + 1]! >> 4) & 0x07,
    version = b[off + 1]! & 0x0f;
  const size = u16be(b, off + 2);
  m.unit = u16be(b, off + 4);
  const soc = u32be(b, off + 6),
    fracsec = u32be(b, off + 10);
  const fields: Record<string, string | number | boolean> = {
    frame_type: FRAME_TYPES[type] ?? `type_${type}`,
    version,
    idcode: m.unit,
    soc,
    fracsec: fracsec & 0xffffff,
    time_quality: fracsec >>> 24,
  };
  m.fields = fields;
  if (size < MIN_FRAME || size > len) {
    malformed(m, 'frame_truncated', `FRAMESIZE ${size} does not fit the ${len} bytes received`);
    return;
  }
  const end = off + size;
  if (crcCcitt(b, off, end - 2) !== u16be(b, end - 2))
    malformed(m, 'checksum', 'CHK does not match the frame (CRC-CCITT)');
  if (type === TYPE_COMMAND) {
    const cmd = u16be(b, off + 14);
    m.func = COMMAND_BASE + cmd;
    m.funcName = COMMANDS[cmd] ?? `command_${cmd}`;
    m.role = 'request';
    // Turning the data stream off or on changes what the PMU does; asking for header/config does not.
    m.write = cmd === 1 || cmd === 2;
    fields.command = cmd;
    return;
  }
  m.func = type;
  m.funcName = FRAME_TYPES[type] ?? `type_${type}`;
  // Data flows from the PMU on its own once turned on; header and configuration answer a command.
  m.role = type === 0 ? 'unsolicited' : 'response';
  if (type === 0 && size >= 18) fields.stat = u16be(b, off + 14);
  else if (type === 2 || type === 3) config(m, b, off + 14, end - 2, fields);
  else if (type === 1) fields.header = ascii(b, off + 14, Math.min(size - 16, 256));
}

/** CFG-1/CFG-2: TIME_BASE, NUM_PMU, then per PMU its station name and channel counts; DATA_RATE last. */
function config(
  m: Message,
  b: Uint8Array,
  q: number,
  end: number,
  fields: Record<string, string | number | boolean>,
): void {
  if (q + 6 > end) {
    malformed(m, 'config_truncated', 'configuration frame without TIME_BASE and NUM_PMU');
    return;
  }
  const pmus = u16be(b, q + 4);
  fields.time_base = u32be(b, q) & 0xffffff;
  fields.num_pmu = pmus;
  q += 6;
  const stations: string[] = [];
  for (let i = 0; i < pmus; i++) {
    if (q + 30 > end) {
      malformed(m, 'config_truncated', `PMU ${i + 1} of ${pmus} runs past the frame`);
      return;
    }
    const stn = ascii(b, q, 16);
    const ph = u16be(b, q + 20),
      an = u16be(b, q + 22),
      dg = u16be(b, q + 24);
    if (stations.length < 16) stations.push(stn);
    if (i === 0) {
      fields.pmu_idcode = u16be(b, q + 16);
      fields.phasors = ph;
      fields.analogs = an;
      fields.digitals = dg;
    }
    // names (16 bytes per phasor, analog and digital bit), units (4 bytes per channel), FNOM, CFGCNT
    q += 26 + 16 * (ph + an + 16 * dg) + 4 * (ph + an + dg) + 4;
  }
  if (q + 2 <= end) fields.data_rate = (u16be(b, q) << 16) >> 16;
  if (stations.length) {
    fields.stations = stations.join(',');
    m.identity = { hostname: stations[0]!, deviceType: pmus > 1 ? 'PDC' : 'PMU' };
  }
}

export const c37118Stream: StreamDissector<null> = {
  protocol: 'c37118',
  newState: () => null,
  pduLength(b, off, avail) {
    if (avail < 1) return 0;
    if (b[off] !== SYNC) return -1;
    if (avail < 4) return 0;
    if ((b[off + 1]! & 0x80) !== 0 || ((b[off + 1]! >> 4) & 7) > 5) return -1;
    const size = u16be(b, off + 2);
    return size < MIN_FRAME ? -1 : size;
  },
  dissect(b, off, len, ctx, toServer, out) {
    frame(b, off, len, ctx, toServer, out);
  },
  resync(b, off, end) {
    for (let i = off; i + 1 < end; i++)
      if (b[i] === SYNC && (b[i + 1]! & 0x80) === 0 && ((b[i + 1]! >> 4) & 7) <= 5) return i;
    return -1;
  },
};

export const c37118Datagram: DatagramDissector = {
  protocol: 'c37118',
  dissect(b, off, len, ctx, toServer, out) {
    frame(b, off, Math.min(len, MAX_FRAME), ctx, toServer, out);
  },
};

function category(m: Message): FunctionCategory {
  if (m.func === COMMAND_BASE + 1 || m.func === COMMAND_BASE + 2 || m.func === COMMAND_BASE + 8)
    return 'control';
  if (m.func > COMMAND_BASE && m.func <= COMMAND_BASE + 6) return 'read'; // send header / configuration
  return m.func >= 0 && m.func <= 5 ? 'read' : 'unknown';
}

export const c37118Protocol: ProtocolDescriptor<C37118Anomaly> = {
  name: 'c37118',
  title: 'IEEE C37.118 synchrophasor',
  industrial: true,
  // PMUs stream measurements to a phasor data concentrator, as outstations report to a master.
  outstation: true,
  // Not steered to the inline gateway yet: a group naming it is enforced by port.
  gateway: false,
  serverPort: { transport: 'tcp', port: 4712 },
  ports: { tcp: [4712], udp: [4713] },
  etherTypes: [],
  functions: C37118_FUNCTIONS,
  category,
  operations: {},
  anomalies: C37118_ANOMALIES,
  stream: c37118Stream,
  datagram: c37118Datagram,
};
