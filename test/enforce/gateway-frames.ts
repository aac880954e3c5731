// Requests of the protocols the gateway learnt last (OPC UA, UMAS, FINS/TCP, SLMP, MMS) for its tests: OPC UA
// from the node-opcua recording (fixtures/opcua-session.pcap), the others built from their manuals the way the
// fixture generators do.
import path from 'node:path';
import { readCaptureSync } from '../../src/capture/source.js';
import { opcuaTcp } from '../../src/dissect/protocols/opcua.js';
import { repoRoot } from '../helpers/paths.js';
import { modbusRequest } from '../helpers/ics-frames.js';

export const OPCUA_FIXTURE = path.join(repoRoot, 'fixtures', 'opcua-session.pcap');

/**
 * The client → server byte stream of each TCP connection to port 4840 in a capture, in connection order
 * (Ethernet, IPv4, TCP; retransmitted bytes skipped).
 */
export function clientStreams(file: string, serverPort = 4840): Buffer[] {
  return clientConnections(file, serverPort).map((c) => c.bytes);
}

/** A client's connection in a capture: its address, its server's, and the bytes it sent. */
export interface ClientConnection {
  client: string;
  server: string;
  bytes: Buffer;
}

export function clientConnections(file: string, serverPort: number): ClientConnection[] {
  const conns = new Map<
    number,
    { next: number | null; parts: Buffer[]; client: string; server: string }
  >();
  readCaptureSync(file, (f) => {
    const b = Buffer.from(f.data.subarray(f.offset, f.offset + f.capLen));
    if (b.length < 34 || b.readUInt16BE(12) !== 0x0800 || b[23] !== 6) return;
    const ip = 14,
      tcp = ip + (b[ip]! & 0x0f) * 4;
    if (b.readUInt16BE(tcp + 2) !== serverPort) return;
    const port = b.readUInt16BE(tcp);
    const seq = b.readUInt32BE(tcp + 4);
    const data = tcp + (b[tcp + 12]! >> 4) * 4;
    const end = ip + b.readUInt16BE(ip + 2);
    let c = conns.get(port);
    const ipOf = (o: number): string => [...b.subarray(o, o + 4)].join('.');
    if (c === undefined)
      conns.set(port, (c = { next: null, parts: [], client: ipOf(26), server: ipOf(30) }));
    if ((b[tcp + 13]! & 0x02) !== 0) {
      c.next = (seq + 1) >>> 0;
      return;
    }
    if (end <= data || (c.next !== null && seq !== c.next)) return;
    c.parts.push(b.subarray(data, end));
    c.next = (seq + end - data) >>> 0;
  });
  return [...conns.values()].map((c) => ({
    client: c.client,
    server: c.server,
    bytes: Buffer.concat(c.parts),
  }));
}

/** A stream cut into its OPC UA chunks. */
export function opcuaChunks(stream: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let off = 0; off < stream.length; ) {
    const n = opcuaTcp.pduLength(stream, off, stream.length - off);
    if (n <= 0) throw new Error(`not OPC UA at ${off}`);
    out.push(stream.subarray(off, off + n));
    off += n;
  }
  return out;
}

/** The service encoding id of a None-channel MSG chunk (its body starts after the 24-byte header), or -1. */
export function opcuaService(chunk: Buffer): number {
  if (chunk.toString('latin1', 0, 3) !== 'MSG' || chunk[24] !== 1) return -1;
  return chunk.readUInt16LE(26);
}

// ---- Modbus UMAS (FC 90): [session][UMAS function][data] ----

export const umas = (tid: number, fn: number, data: number[] = []): Uint8Array =>
  modbusRequest(tid, 90, [0x00, fn, ...data]);
export const UMAS = {
  READ_ID: 0x02,
  READ_PLC_INFO: 0x04,
  READ_MEMORY_BLOCK: 0x20,
  WRITE_MEMORY_BLOCK: 0x21,
  INITIALIZE_DOWNLOAD: 0x33,
  DOWNLOAD_BLOCK: 0x34,
  START_PLC: 0x40,
  STOP_PLC: 0x41,
} as const;

// ---- Omron FINS over TCP (W342, W421) ----

/** FINS/TCP header: 'FINS', length of what follows, command, error code. */
export function finsTcp(command: number, body: Buffer | number[], error = 0): Buffer {
  const b = Buffer.isBuffer(body) ? body : Buffer.from(body);
  const h = Buffer.alloc(16);
  h.write('FINS', 0, 'ascii');
  h.writeUInt32BE(8 + b.length, 4);
  h.writeUInt32BE(command, 8);
  h.writeUInt32BE(error, 12);
  return Buffer.concat([h, b]);
}
/** The client's node address request (FINS/TCP command 0, node 0: the server assigns one). */
export const finsHello = (): Buffer => finsTcp(0, [0, 0, 0, 0]);
/** A FINS command frame to node 1 from node 10, in a FINS/TCP frame-send. */
export const finsCommand = (sid: number, cmd: number, data: number[] = []): Buffer =>
  finsTcp(2, [0x80, 0, 2, 0, 1, 0, 0, 10, 0, sid, cmd >> 8, cmd & 0xff, ...data]);
export const FINS = {
  MEMORY_READ: 0x0101,
  MEMORY_WRITE: 0x0102,
  RUN: 0x0401,
  STOP: 0x0402,
  CONTROLLER_DATA_READ: 0x0501,
} as const;
/** Memory area read/write of DM words (area 0x82) from `start`, `count` words. */
export const dm = (start: number, count: number, words: number[] = []): number[] => [
  0x82,
  start >> 8,
  start & 0xff,
  0,
  count >> 8,
  count & 0xff,
  ...words.flatMap((w) => [w >> 8, w & 0xff]),
];

// ---- MELSEC SLMP 3E binary (SH-080956ENG) ----

const le16 = (n: number): number[] => [n & 0xff, n >> 8];
export function slmp(command: number, sub: number, data: number[] = []): Buffer {
  const body = [0x10, 0x00, ...le16(command), ...le16(sub), ...data];
  return Buffer.from([0x50, 0x00, 0x00, 0xff, 0xff, 0x03, 0x00, ...le16(body.length), ...body]);
}
export const SLMP = {
  DEVICE_READ: 0x0401,
  DEVICE_WRITE: 0x1401,
  REMOTE_RUN: 0x1001,
  REMOTE_STOP: 0x1002,
  READ_TYPE_NAME: 0x0101,
} as const;
/** Word device D from `head`, `points` words (3E subcommand 0). */
export const dWords = (head: number, points: number, words: number[] = []): number[] => [
  head & 0xff,
  (head >> 8) & 0xff,
  head >> 16,
  0xa8,
  ...le16(points),
  ...words.flatMap(le16),
];
