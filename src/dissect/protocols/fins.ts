import type { DatagramDissector, ProtocolDescriptor, StreamDissector } from '../protocol.js';
import {
  newMessage,
  markMalformed,
  type Malformed,
  type Message,
  type PduContext,
} from '../message.js';
import { ascii, u16be, u32be } from '../bytes.js';
import {
  FINS_COMMANDS,
  FINS_OPERATIONS,
  FINS_WRITES,
  finsCategory,
  finsRequestedMode,
} from './fins-commands.js';

/**
 * Omron FINS (W342, W421) on port 9600: over UDP a datagram is one FINS frame — ICF, RSV, GCT, destination and
 * source network/node/unit, SID — then the command code (MRC, SRC), an end code in responses (MRES, SRES) and data.
 * Over TCP each frame rides in a FINS/TCP header: 'FINS', length of the rest, command (0 node address from the
 * client, 1 node address from the server, 2 FINS frame, 3 error) and an error code.
 */

const FINS_HEADER = 10;
const TCP_HEADER = 16;
const TCP_MAGIC = 0x46494e53; // 'FINS'
const TCP_COMMANDS: Record<number, string> = {
  0: 'NODE_ADDRESS_DATA_SEND_CLIENT',
  1: 'NODE_ADDRESS_DATA_SEND_SERVER',
  2: 'FINS_FRAME_SEND',
  3: 'FINS_FRAME_SEND_ERROR',
  6: 'CONNECTION_CONFIRMATION',
};
const TCP_FRAME_SEND = 2;
/** ICF bit 6: the frame is a response. */
const ICF_RESPONSE = 0x40;
const CMD_MEMORY_READ = 0x0101,
  CMD_MEMORY_WRITE = 0x0102,
  CMD_MEMORY_FILL = 0x0103,
  CMD_CONTROLLER_DATA_READ = 0x0501;
/** FINS/TCP frames are at most a FINS frame of 2012 bytes plus headers; anything longer is not FINS. */
const MAX_TCP = 4096;
const MAX_VALUES = 64;

/** Memory area codes (W342 §5-2-2): word areas; bit areas read the same memory bit by bit. */
const AREAS: Record<number, string> = {
  0x30: 'CIO_bit',
  0x31: 'W_bit',
  0x32: 'H_bit',
  0x33: 'A_bit',
  0x02: 'D_bit',
  0x09: 'TC_status',
  0xb0: 'CIO',
  0xb1: 'W',
  0xb2: 'H',
  0xb3: 'A',
  0x82: 'D',
  0x89: 'TC_PV',
  0x98: 'E',
  0xbc: 'DR',
  0xdc: 'IR',
};
const BIT_AREAS = new Set([0x30, 0x31, 0x32, 0x33, 0x02, 0x09]);

export const FINS_ANOMALIES = [
  'header_truncated',
  'command_truncated',
  'tcp_error',
  'data_truncated',
] as const;
export type FinsAnomaly = (typeof FINS_ANOMALIES)[number];
const malformed: Malformed<FinsAnomaly> = markMalformed;

function tcpLength(b: Uint8Array, off: number, avail: number): number {
  if (avail < 4) return avail > 0 && b[off] !== 0x46 ? -1 : 0;
  if (u32be(b, off) !== TCP_MAGIC) return -1;
  if (avail < 8) return 0;
  const n = u32be(b, off + 4);
  return n < 8 || n > MAX_TCP ? -1 : 8 + n;
}

function resync(b: Uint8Array, off: number, end: number): number {
  for (let p = off; p + 8 <= end; p++) if (tcpLength(b, p, 8) > 0) return p;
  return -1;
}

function tcpFrame(
  b: Uint8Array,
  off: number,
  len: number,
  ctx: PduContext,
  toServer: boolean,
  out: Message[],
): void {
  if (len < TCP_HEADER) {
    const m = newMessage(ctx, 'fins');
    m.role = toServer ? 'request' : 'response';
    malformed(m, 'header_truncated', `FINS/TCP frame of ${len} bytes`);
    out.push(m);
    return;
  }
  const command = u32be(b, off + 8),
    error = u32be(b, off + 12);
  if (command === TCP_FRAME_SEND && error === 0) {
    frame(b, off + TCP_HEADER, off + len, ctx, toServer, out);
    return;
  }
  const m = newMessage(ctx, 'fins');
  out.push(m);
  m.role = toServer ? 'request' : 'response';
  m.funcName = TCP_COMMANDS[command] ?? `TCP_COMMAND_${command}`;
  m.fields = { tcp_command: command };
  if (error !== 0) {
    m.exception = error;
    malformed(m, 'tcp_error', `FINS/TCP error code 0x${error.toString(16)}`);
  }
  if (command === 0 && len >= 20) m.fields.client_node = u32be(b, off + 16);
  if (command === 1 && len >= 24) {
    m.fields.client_node = u32be(b, off + 16);
    m.fields.server_node = u32be(b, off + 20);
  }
}

/** One FINS frame in b[off, end). */
function frame(
  b: Uint8Array,
  off: number,
  end: number,
  ctx: PduContext,
  toServer: boolean,
  out: Message[],
): void {
  const m = newMessage(ctx, 'fins');
  out.push(m);
  if (end - off < FINS_HEADER) {
    m.role = toServer ? 'request' : 'response';
    malformed(m, 'header_truncated', `FINS frame of ${end - off} bytes`);
    return;
  }
  const icf = b[off]!;
  const response = (icf & ICF_RESPONSE) !== 0;
  m.role = response ? 'response' : 'request';
  m.txId = b[off + 9]!;
  m.unit = b[off + 4]!; // destination node
  m.fields = {
    dna: b[off + 3]!,
    da1: b[off + 4]!,
    da2: b[off + 5]!,
    sna: b[off + 6]!,
    sa1: b[off + 7]!,
    sa2: b[off + 8]!,
  };
  let p = off + FINS_HEADER;
  if (end - p < 2) {
    malformed(m, 'command_truncated', 'FINS frame without a command code');
    return;
  }
  const cmd = u16be(b, p);
  p += 2;
  m.func = cmd;
  m.funcName = FINS_COMMANDS[cmd] ?? `COMMAND_0x${cmd.toString(16).padStart(4, '0')}`;
  if (response) {
    if (end - p < 2) {
      malformed(m, 'command_truncated', 'response without its end code');
      return;
    }
    // End code: bit 7 of each byte flags relay and fatal/non-fatal errors, not the code itself.
    const endCode = u16be(b, p) & 0x7f7f;
    m.fields.end_code = endCode;
    if (endCode !== 0 && endCode !== 0x0040) m.exception = endCode;
    p += 2;
    if (cmd === CMD_CONTROLLER_DATA_READ && m.exception === -1 && end - p >= 20)
      m.identity = {
        vendor: 'OMRON',
        model: ascii(b, p, 20),
        ...(end - p >= 40 && ascii(b, p + 20, 20) !== '' ? { firmware: ascii(b, p + 20, 20) } : {}),
        deviceType: 'Programmable Logic Controller',
        about: 'src',
      };
    // Memory read replies are not decoded: whether they hold words or bits is in the request.
    return;
  }
  m.write = FINS_WRITES.has(cmd);
  if (cmd === CMD_MEMORY_READ || cmd === CMD_MEMORY_WRITE || cmd === CMD_MEMORY_FILL) {
    if (end - p < 6) {
      malformed(m, 'data_truncated', 'memory area address truncated');
      return;
    }
    const area = b[p]!;
    const count = u16be(b, p + 4);
    const bits = BIT_AREAS.has(area);
    const start = bits ? u16be(b, p + 1) * 16 + b[p + 3]! : u16be(b, p + 1);
    m.targets = [{ space: AREAS[area] ?? `area_0x${area.toString(16)}`, start, count }];
    if (cmd === CMD_MEMORY_WRITE) {
      const need = count * (bits ? 1 : 2);
      if (end - (p + 6) < need)
        malformed(m, 'data_truncated', `${count} items to write, ${end - p - 6} bytes of data`);
      if (bits) {
        const v: number[] = [];
        for (let q = p + 6; q < end && v.length < MAX_VALUES; q++) v.push(b[q]!);
        if (v.length > 0) m.values = v;
      } else words(m, b, p + 6, end);
    }
  }
}

/** Big-endian words of a memory read or write. */
function words(m: Message, b: Uint8Array, p: number, end: number): void {
  const v: number[] = [];
  for (let q = p; q + 2 <= end && v.length < MAX_VALUES; q += 2) v.push(u16be(b, q));
  if (v.length > 0) m.values = v;
}

export const finsTcp: StreamDissector<null> = {
  protocol: 'fins',
  newState: () => null,
  pduLength: tcpLength,
  dissect: (b, off, len, ctx, toServer, out) => tcpFrame(b, off, len, ctx, toServer, out),
  resync,
};

export const finsUdp: DatagramDissector = {
  protocol: 'fins',
  dissect: (b, off, len, ctx, toServer, out) => frame(b, off, off + len, ctx, toServer, out),
};

export const finsProtocol: ProtocolDescriptor<FinsAnomaly> = {
  name: 'fins',
  title: 'Omron FINS',
  industrial: true,
  serverPort: { transport: 'udp', port: 9600 },
  ports: { tcp: [9600], udp: [9600] },
  etherTypes: [],
  functions: FINS_COMMANDS,
  category: finsCategory,
  operations: FINS_OPERATIONS,
  requestedMode: finsRequestedMode,
  anomalies: FINS_ANOMALIES,
  stream: finsTcp,
  datagram: finsUdp,
};
