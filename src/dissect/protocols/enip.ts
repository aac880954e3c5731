import type { DatagramDissector, ProtocolDescriptor, StreamDissector } from '../protocol.js';
import {
  newMessage,
  type IdentityFacts,
  type Message,
  type PduContext,
  markMalformed,
  type Malformed,
} from '../message.js';
import { ascii, u16be, u16le, u32le, ipv4String, u32be, hex } from '../bytes.js';
import { dissectCip } from './cip.js';
import { enipCategory } from './enip-categories.js';
import { CIP_VENDORS } from './cip-vendors.js';
import { foreignProtocol } from '../foreign.js';

const COMMANDS: Record<number, string> = {
  0x00: 'NOP',
  0x04: 'LIST_SERVICES',
  0x63: 'LIST_IDENTITY',
  0x64: 'LIST_INTERFACES',
  0x65: 'REGISTER_SESSION',
  0x66: 'UNREGISTER_SESSION',
  0x6f: 'SEND_RR_DATA',
  0x70: 'SEND_UNIT_DATA',
  0x72: 'INDICATE_STATUS',
  0x73: 'CANCEL',
};
/** Encapsulation commands Weir reads beyond the header (ENIP spec, Volume 2 Table 2-3.2). */
const CMD_LIST_SERVICES = 0x04;
const CMD_LIST_IDENTITY = 0x63;
const CMD_LIST_INTERFACES = 0x64;
const CMD_SEND_RR_DATA = 0x6f;
const CMD_SEND_UNIT_DATA = 0x70;
/** Common Packet Format item types (Volume 2 Table 2-6.3). */
const ITEM_CONNECTED_ADDRESS = 0x00a1;
const ITEM_CONNECTED_DATA = 0x00b1;
const ITEM_UNCONNECTED_DATA = 0x00b2;
const ITEM_IDENTITY = 0x000c;
/** Sequenced address item, the header of class 0/1 implicit I/O datagrams. */
const ITEM_SEQUENCED_ADDRESS = 0x8002;
/** UDP port of implicit (class 0/1) I/O: bare CPF, no encapsulation header. */
const IMPLICIT_IO_PORT = 2222;
/** Length of the encapsulation header. */
const HEADER_LENGTH = 24;

/** Kinds of malformed EtherNet/IP encapsulation (the `kind` of a Message's anomaly). */
export const ENIP_ANOMALIES = [
  'length_mismatch',
  'cpf_item_overrun',
  'identity_item_overrun',
  'io_item_overrun',
  /** Set by discover/io-connections: I/O on an id no Forward_Open between the same hosts opened. */
  'io_unknown_connection',
] as const;
export type EnipAnomaly = (typeof ENIP_ANOMALIES)[number];

const malformed: Malformed<EnipAnomaly> = markMalformed;

/** CIP device types (Volume 1, device profiles). */
export const DEVICE_TYPES: Readonly<Record<number, string>> = {
  0x00: 'Generic Device',
  0x02: 'AC Drive',
  0x07: 'General Purpose Discrete I/O',
  0x0c: 'Communications Adapter',
  0x0e: 'Programmable Logic Controller',
  0x18: 'Human-Machine Interface',
  0x2b: 'Generic Device (keyable)',
};

/**
 * Command codes CIP Vol 2 Table 2-3.2 reserves for legacy (Rockwell) use: 0x0001-0x0003, 0x0005, 0x0067-0x006E,
 * 0x0071, 0x0074-0x00C7. RSLinx still sends some (0x0001 lists a device's targets), framed like any other
 * encapsulation; the rest (0x0006-0x0062, 0x00C8 up) are for future use and mean the bytes are not ENIP.
 */
function legacy(cmd: number): boolean {
  return (
    (cmd >= 0x01 && cmd <= 0x03) ||
    cmd === 0x05 ||
    (cmd >= 0x67 && cmd <= 0x6e) ||
    cmd === 0x71 ||
    (cmd >= 0x74 && cmd <= 0xc7)
  );
}

function commandName(cmd: number): string {
  return (
    COMMANDS[cmd] ??
    (legacy(cmd)
      ? `LEGACY_0x${cmd.toString(16).padStart(4, '0')}`
      : `COMMAND_0x${cmd.toString(16)}`)
  );
}

function pduLength(b: Uint8Array, off: number, avail: number): number {
  if (avail < 24) return 0;
  const cmd = u16le(b, off);
  if (COMMANDS[cmd] === undefined && !legacy(cmd)) return -1;
  // DCE/RPC (05 00 …) reads as legacy command 0x0005: a rare command, so check for a foreign protocol there.
  if (COMMANDS[cmd] === undefined && foreignProtocol(b, off, off + avail) !== null) return -1;
  const len = u16le(b, off + 2);
  return 24 + len;
}

function encapsulation(
  b: Uint8Array,
  off: number,
  len: number,
  ctx: PduContext,
  toServer: boolean,
  out: Message[],
): void {
  const m = newMessage(ctx, 'enip');
  out.push(m);
  const cmd = u16le(b, off);
  m.func = cmd;
  m.funcName = commandName(cmd);
  const status = u32le(b, off + 8);
  m.fields = { enip_command: m.funcName, session_handle: u32le(b, off + 4), enip_status: status };
  if (status !== 0) m.exception = status;
  const end = off + len;
  const d = off + 24;
  if (HEADER_LENGTH + u16le(b, off + 2) !== len)
    malformed(m, 'length_mismatch', 'encapsulation length mismatch');
  // ListIdentity/ListServices requests have no data; replies carry items.
  const isReply = end > d;
  m.role =
    cmd === CMD_LIST_IDENTITY || cmd === CMD_LIST_SERVICES || cmd === CMD_LIST_INTERFACES
      ? isReply
        ? 'response'
        : 'request'
      : toServer
        ? 'request'
        : 'response';
  if (cmd === CMD_LIST_IDENTITY && isReply) {
    listIdentity(m, b, d, end);
    return;
  }
  if ((cmd === CMD_SEND_RR_DATA || cmd === CMD_SEND_UNIT_DATA) && d + 8 <= end)
    cpfItems(b, d + 6, end, ctx, out, m, cmd === CMD_SEND_UNIT_DATA);
}

/** Common Packet Format: item count, then (type, length, data); CIP rides in data items. */
function cpfItems(
  b: Uint8Array,
  p: number,
  end: number,
  ctx: PduContext,
  out: Message[],
  m: Message,
  connected: boolean,
): void {
  const count = u16le(b, p);
  p += 2;
  for (let i = 0; i < count && p + 4 <= end; i++) {
    const type = u16le(b, p),
      ilen = u16le(b, p + 2);
    const data = p + 4;
    if (data + ilen > end) {
      malformed(m, 'cpf_item_overrun', 'CPF item overruns the packet');
      return;
    }
    if (type === ITEM_UNCONNECTED_DATA && !connected) dissectCip(b, data, data + ilen, ctx, out);
    else if (type === ITEM_CONNECTED_DATA && connected && ilen > 2)
      dissectCip(b, data + 2, data + ilen, ctx, out);
    else if (type === ITEM_CONNECTED_ADDRESS && ilen >= 4) m.fields!.connection_id = u32le(b, data);
    p = data + ilen;
  }
}

function listIdentity(m: Message, b: Uint8Array, p: number, end: number): void {
  if (p + 2 > end) return;
  const count = u16le(b, p);
  p += 2;
  for (let i = 0; i < count && p + 4 <= end; i++) {
    const type = u16le(b, p),
      ilen = u16le(b, p + 2);
    const d = p + 4;
    if (d + ilen > end) {
      malformed(m, 'identity_item_overrun', 'identity item overruns the packet');
      return;
    }
    if (type === ITEM_IDENTITY && ilen >= 33) {
      const vendor = u16le(b, d + 18),
        dtype = u16le(b, d + 20),
        product = u16le(b, d + 22);
      const nameLen = b[d + 32]!;
      const id: IdentityFacts = {
        vendor: CIP_VENDORS[vendor] ?? `CIP vendor ${vendor}`,
        deviceType: DEVICE_TYPES[dtype] ?? `CIP device type 0x${dtype.toString(16)}`,
        firmware: `${b[d + 24]}.${b[d + 25]}`,
        serial: hex(b, d + 28, 4)
          .match(/../g)!
          .reverse()
          .join(''),
        product: d + 33 + nameLen <= d + ilen ? ascii(b, d + 33, nameLen) : undefined,
      };
      if (id.product === undefined) delete id.product;
      const ip = u32be(b, d + 6);
      if (ip !== 0) id.ip = ipv4String(ip);
      m.identity = id;
      m.fields = {
        ...m.fields,
        vendor_id: vendor,
        device_type: dtype,
        product_code: product,
        status: u16le(b, d + 26),
        socket_port: u16be(b, d + 4),
      };
    }
    p = d + ilen;
  }
}

/**
 * Class 0/1 implicit I/O (Volume 2, 2-6.3): bare CPF, a Sequenced Address item (connection id, encapsulation
 * sequence number) then a Connected Data item. Class 1 data starts with a 16-bit CIP sequence count (tshark's
 * enip.cpf.cdi.seqcnt; class 0 has none, which only the Forward_Open tells).
 */
function implicitIo(m: Message, b: Uint8Array, p: number, end: number): void {
  const count = u16le(b, p);
  p += 2;
  const fields: Record<string, number> = {};
  for (let i = 0; i < count && p + 4 <= end; i++) {
    const type = u16le(b, p),
      ilen = u16le(b, p + 2);
    const data = p + 4;
    if (data + ilen > end) {
      malformed(m, 'io_item_overrun', `I/O CPF item 0x${type.toString(16)} overruns the datagram`);
      break;
    }
    if (type === ITEM_SEQUENCED_ADDRESS && ilen >= 8) {
      fields.connection_id = u32le(b, data);
      fields.sequence = u32le(b, data + 4);
    } else if (type === ITEM_CONNECTED_DATA) {
      fields.data_length = ilen;
      if (ilen >= 2) fields.cip_sequence = u16le(b, data);
    }
    p = data + ilen;
  }
  if (Object.keys(fields).length > 0) m.fields = fields;
}

export const enipTcp: StreamDissector<null> = {
  protocol: 'enip',
  newState: () => null,
  pduLength,
  dissect: encapsulation,
};

/** UDP 44818 carries encapsulation (ListIdentity broadcasts); UDP 2222 carries class 0/1 I/O in bare CPF. */
export const enipUdp: DatagramDissector = {
  protocol: 'enip',
  dissect(b, off, len, ctx, toServer, out) {
    if (ctx.srcPort === IMPLICIT_IO_PORT || ctx.dstPort === IMPLICIT_IO_PORT) {
      if (len < 2) return;
      const m = newMessage(ctx, 'enip');
      m.funcName = 'IO';
      m.role = 'unsolicited';
      implicitIo(m, b, off, off + len);
      out.push(m);
      return;
    }
    let p = off;
    const end = off + len;
    while (end - p >= 24) {
      const n = pduLength(b, p, end - p);
      if (n <= 0 || p + n > end) return;
      encapsulation(b, p, n, ctx, toServer, out);
      p += n;
    }
  },
};

export const enipProtocol: ProtocolDescriptor<EnipAnomaly> = {
  name: 'enip',
  title: 'EtherNet/IP',
  industrial: true,
  serverPort: { transport: 'tcp', port: 44818 },
  ports: { tcp: [44818], udp: [44818, IMPLICIT_IO_PORT] },
  serviceNames: { tcp: { [IMPLICIT_IO_PORT]: 'enip-io' }, udp: { [IMPLICIT_IO_PORT]: 'enip-io' } },
  etherTypes: [],
  functions: COMMANDS,
  category: enipCategory,
  operations: {},
  anomalies: ENIP_ANOMALIES,
  stream: enipTcp,
  datagram: enipUdp,
};
