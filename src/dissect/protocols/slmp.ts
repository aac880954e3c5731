import type { DatagramDissector, ProtocolDescriptor, StreamDissector } from '../protocol.js';
import {
  newMessage,
  markMalformed,
  type Malformed,
  type Message,
  type PduContext,
} from '../message.js';
import { ascii, u16le } from '../bytes.js';
import {
  SLMP_COMMANDS,
  SLMP_OPERATIONS,
  SLMP_WRITES,
  slmpCategory,
  slmpRequestedMode,
} from './slmp-commands.js';

/**
 * Mitsubishi MELSEC SLMP / MC protocol, binary 3E and 4E frames (SH-080956ENG §4). A request: subheader 50 00
 * (4E: 54 00, serial number, 00 00), network number, station (PC) number, module I/O number (2), multidrop station,
 * data length (2, from here to the end), monitoring timer (2), command (2), subcommand (2), data. A response:
 * subheader D0 00 (4E: D4 00 …), the same routing, data length, end code (2), data. Everything little-endian.
 * No port is standard: Weir reads it where nmap's melsecq-discover scripts look (TCP 5007, UDP 5006).
 */

const SUB_3E_REQUEST = 0x0050,
  SUB_3E_RESPONSE = 0x00d0,
  SUB_4E_REQUEST = 0x0054,
  SUB_4E_RESPONSE = 0x00d4;
/** Bytes before the data length's payload: subheader and routing, plus 4 for the 4E serial. */
const ROUTE = 9;
const MAX_FRAME = 8192;
const CMD_DEVICE_READ = 0x0401,
  CMD_DEVICE_WRITE = 0x1401;
const MAX_VALUES = 64;

/** Device codes (binary, one byte; iQ-R subcommands 0x0002/0x0003 use two): the device's name. */
const DEVICES: Record<number, string> = {
  0x9c: 'X',
  0x9d: 'Y',
  0x90: 'M',
  0x92: 'L',
  0x93: 'F',
  0x94: 'V',
  0xa0: 'B',
  0xa8: 'D',
  0xb4: 'W',
  0xaf: 'R',
  0xb0: 'ZR',
  0xcc: 'Z',
  0x91: 'SM',
  0xa9: 'SD',
  0xc2: 'TN',
  0xc1: 'TS',
  0xc0: 'TC',
  0xc5: 'CN',
  0xc4: 'CS',
  0xc3: 'CC',
};

export const SLMP_ANOMALIES = ['header_truncated', 'length_mismatch', 'data_truncated'] as const;
export type SlmpAnomaly = (typeof SLMP_ANOMALIES)[number];
const malformed: Malformed<SlmpAnomaly> = markMalformed;

/** Header bytes before the data length's count, or -1 when the subheader is not SLMP binary. */
function headerOf(b: Uint8Array, off: number): number {
  const sub = u16le(b, off);
  if (sub === SUB_3E_REQUEST || sub === SUB_3E_RESPONSE) return ROUTE;
  if (sub === SUB_4E_REQUEST || sub === SUB_4E_RESPONSE) return ROUTE + 4;
  return -1;
}

function pduLength(b: Uint8Array, off: number, avail: number): number {
  if (avail < 2)
    return avail === 1 && b[off] !== 0x50 && b[off] !== 0xd0 && b[off] !== 0x54 && b[off] !== 0xd4
      ? -1
      : 0;
  const h = headerOf(b, off);
  if (h < 0) return -1;
  if (avail < h) return 0;
  const n = u16le(b, off + h - 2);
  return n < 2 || h + n > MAX_FRAME ? -1 : h + n;
}

function resync(b: Uint8Array, off: number, end: number): number {
  for (let p = off; p + 2 <= end; p++) if (headerOf(b, p) > 0) return p;
  return -1;
}

function frame(
  b: Uint8Array,
  off: number,
  len: number,
  ctx: PduContext,
  toServer: boolean,
  out: Message[],
): void {
  const m = newMessage(ctx, 'slmp');
  out.push(m);
  m.role = toServer ? 'request' : 'response';
  const h = len >= 2 ? headerOf(b, off) : -1;
  if (h < 0 || len < h) {
    malformed(m, 'header_truncated', `SLMP frame of ${len} bytes`);
    return;
  }
  const sub = u16le(b, off);
  const response = sub === SUB_3E_RESPONSE || sub === SUB_4E_RESPONSE;
  m.role = response ? 'response' : 'request';
  const r = off + h - ROUTE + 2; // network number
  if (h > ROUTE) m.txId = u16le(b, off + 2);
  m.unit = b[r + 1]!; // PC number
  m.fields = {
    frame: h > ROUTE ? '4E' : '3E',
    network: b[r]!,
    pc: b[r + 1]!,
    module_io: u16le(b, r + 2),
    station: b[r + 4]!,
  };
  const count = u16le(b, off + h - 2);
  const end = Math.min(off + len, off + h + count);
  if (h + count !== len) malformed(m, 'length_mismatch', `data length ${count}, ${len - h} bytes`);
  const p = off + h;
  if (response) {
    if (end - p < 2) {
      malformed(m, 'data_truncated', 'response without its end code');
      return;
    }
    const endCode = u16le(b, p);
    m.fields.end_code = endCode;
    // A response names no command; an error response repeats the failed request's command after the routing.
    if (endCode !== 0) {
      m.exception = endCode;
      if (end - p >= 11) {
        m.func = u16le(b, p + 7);
        m.subfunc = u16le(b, p + 9);
        m.funcName = SLMP_COMMANDS[m.func] ?? `COMMAND_0x${m.func.toString(16)}`;
      }
      return;
    }
    if (cpuModel(b, p + 2, end)) {
      m.identity = {
        vendor: 'Mitsubishi Electric',
        model: ascii(b, p + 2, 16),
        deviceType: 'Programmable Logic Controller',
        about: 'src',
      };
      m.fields.model_code = u16le(b, p + 18);
    }
    return;
  }
  if (end - p < 6) {
    malformed(m, 'data_truncated', 'request without its timer, command and subcommand');
    return;
  }
  m.fields.monitoring_timer = u16le(b, p);
  const cmd = u16le(b, p + 2);
  m.func = cmd;
  m.subfunc = u16le(b, p + 4);
  m.funcName = SLMP_COMMANDS[cmd] ?? `COMMAND_0x${cmd.toString(16).padStart(4, '0')}`;
  m.write = SLMP_WRITES.has(cmd);
  if (cmd === CMD_DEVICE_READ || cmd === CMD_DEVICE_WRITE)
    device(m, b, p + 6, end, cmd === CMD_DEVICE_WRITE);
}

/**
 * A reply to Read CPU Model (0101): 16 ASCII characters, space-padded, and a model code. Replies carry no command,
 * so the shape decides: exactly 18 bytes whose first 16 are printable and start with a letter (a read of 9 words
 * would have to spell a model name to pass).
 */
function cpuModel(b: Uint8Array, p: number, end: number): boolean {
  if (end - p !== 18) return false;
  const c = b[p]!;
  if (!((c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a))) return false;
  for (let i = p; i < p + 16; i++) if (b[i]! < 0x20 || b[i]! > 0x7e) return false;
  return true;
}

/** Batch read/write: head device number (3 bytes; 4 on iQ-R), device code (1; 2 on iQ-R), points (2), data. */
function device(m: Message, b: Uint8Array, p: number, end: number, write: boolean): void {
  const iqr = (m.subfunc & 0x0002) !== 0;
  const bits = (m.subfunc & 0x0001) !== 0;
  const need = iqr ? 8 : 6;
  if (end - p < need) {
    malformed(m, 'data_truncated', 'device address truncated');
    return;
  }
  const head = iqr
    ? u16le(b, p) + b[p + 2]! * 65536 + b[p + 3]! * 16777216
    : u16le(b, p) + b[p + 2]! * 65536;
  const code = iqr ? u16le(b, p + 4) : b[p + 3]!;
  const points = u16le(b, p + need - 2);
  m.targets = [
    { space: DEVICES[code] ?? `device_0x${code.toString(16)}`, start: head, count: points },
  ];
  if (!write) return;
  let q = p + need;
  const size = bits ? Math.ceil(points / 2) : points * 2;
  if (end - q < size)
    malformed(m, 'data_truncated', `${points} points to write, ${end - q} bytes of data`);
  const v: number[] = [];
  if (bits)
    // Two bits per byte, high nibble first.
    for (; q < end && v.length < Math.min(points, MAX_VALUES); q++) {
      v.push(b[q]! >> 4);
      if (v.length < points) v.push(b[q]! & 0x0f);
    }
  else for (; q + 2 <= end && v.length < Math.min(points, MAX_VALUES); q += 2) v.push(u16le(b, q));
  if (v.length > 0) m.values = v;
}

export const slmpTcp: StreamDissector<null> = {
  protocol: 'slmp',
  newState: () => null,
  pduLength,
  dissect: (b, off, len, ctx, toServer, out) => frame(b, off, len, ctx, toServer, out),
  resync,
};

export const slmpUdp: DatagramDissector = {
  protocol: 'slmp',
  dissect: (b, off, len, ctx, toServer, out) => {
    if (len >= 2 && headerOf(b, off) > 0) frame(b, off, len, ctx, toServer, out);
  },
};

export const slmpProtocol: ProtocolDescriptor<SlmpAnomaly> = {
  name: 'slmp',
  title: 'MELSEC SLMP/MC (3E/4E binary)',
  industrial: true,
  serverPort: { transport: 'tcp', port: 5007 },
  ports: { tcp: [5007], udp: [5006] },
  etherTypes: [],
  functions: SLMP_COMMANDS,
  category: slmpCategory,
  operations: SLMP_OPERATIONS,
  requestedMode: slmpRequestedMode,
  anomalies: SLMP_ANOMALIES,
  stream: slmpTcp,
  datagram: slmpUdp,
};
