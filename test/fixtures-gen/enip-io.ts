// An EtherNet/IP class 1 I/O connection crafted from the specification (CIP Vol 1 3-5.5.2, Vol 2 2-6.3,
// little-endian): a Forward_Open over TCP 44818 and its reply, then cyclic UDP 2222 datagrams both ways, and one
// datagram on a connection id no Forward_Open set up.
import { pcap, TcpFlow, udp } from './pcap-writer.js';

export const SCANNER = { mac: '02:00:00:00:2d:01', ip: '10.45.0.10', port: 50200 };
export const ADAPTER = { mac: '02:00:00:00:2d:02', ip: '10.45.0.20', port: 44818 };
export const OT_ID = 0x20000001;
export const TO_ID = 0x30000002;
export const UNKNOWN_ID = 0x7eadbeef;
/** Requested intervals (µs): O→T 10 ms, T→O 20 ms; the adapter grants them unchanged. */
export const OT_RPI = 10_000;
export const TO_RPI = 20_000;

const le16 = (n: number): number[] => [n & 255, (n >> 8) & 255];
const le32 = (n: number): number[] => [n & 255, (n >> 8) & 255, (n >> 16) & 255, (n >>> 24) & 255];

function encap(cmd: number, data: number[], session: number): Buffer {
  const h = Buffer.alloc(24);
  h.writeUInt16LE(cmd, 0);
  h.writeUInt16LE(data.length, 2);
  h.writeUInt32LE(session, 4);
  return Buffer.concat([h, Buffer.from(data)]);
}

function sendRR(cip: number[], session: number): Buffer {
  return encap(
    0x6f,
    [0, 0, 0, 0, ...le16(10), ...le16(2), 0, 0, 0, 0, 0xb2, 0, ...le16(cip.length), ...cip],
    session,
  );
}

/** Forward_Open to the Connection Manager (class 6 instance 1) for an exclusive-owner class 1 connection. */
const forwardOpen = [
  0x54,
  0x02,
  0x20,
  0x06,
  0x24,
  0x01, // service, path: class 6, instance 1
  0x0a,
  0x0e, // priority/tick, timeout ticks
  ...le32(0),
  ...le32(TO_ID), // O→T id (the adapter picks it), T→O id (the scanner's)
  ...le16(0x1234),
  ...le16(0x0001),
  ...le32(0x00abcdef), // connection serial, vendor, originator serial
  0x02,
  0,
  0,
  0, // timeout multiplier, reserved
  ...le32(OT_RPI),
  ...le16(0x4820), // O→T RPI, parameters (point-to-point, 32 bytes)
  ...le32(TO_RPI),
  ...le16(0x2820), // T→O RPI, parameters (multicast, 32 bytes)
  0x01, // transport: class 1, cyclic
  0x03,
  0x20,
  0x04,
  0x24,
  0x01,
  0x2c,
  0x64, // connection path (3 words): assembly, instance 1, point 100
];

/** Successful reply: ids, serial, vendor, originator serial, actual intervals, no application reply. */
const forwardOpenReply = [
  0xd4,
  0,
  0,
  0,
  ...le32(OT_ID),
  ...le32(TO_ID),
  ...le16(0x1234),
  ...le16(0x0001),
  ...le32(0x00abcdef),
  ...le32(OT_RPI),
  ...le32(TO_RPI),
  0,
  0,
];

/** One class 1 datagram: Sequenced Address item (id, sequence), Connected Data item (CIP sequence count, data). */
export function ioDatagram(id: number, seq: number, data: number[]): Buffer {
  return Buffer.from([
    ...le16(2),
    ...le16(0x8002),
    ...le16(8),
    ...le32(id),
    ...le32(seq),
    ...le16(0x00b1),
    ...le16(2 + data.length),
    ...le16(seq & 0xffff),
    ...data,
  ]);
}

/** The scanner's TCP session to the adapter up to the Forward_Open reply; `close` then sends a Forward_Close. */
export class ForwardOpenSession {
  private readonly f = new TcpFlow(SCANNER, ADAPTER);
  private readonly session = 0x0badf00d;

  open(): Buffer[] {
    return [
      ...this.f.handshake(),
      this.f.send(true, encap(0x65, [1, 0, 0, 0], 0)),
      this.f.send(false, encap(0x65, [1, 0, 0, 0], this.session)),
      this.f.send(true, sendRR(forwardOpen, this.session)),
      this.f.send(false, sendRR(forwardOpenReply, this.session)),
    ];
  }

  /** Forward_Close request (connection serial, vendor, originator serial, empty path) to the Connection Manager. */
  close(): Buffer {
    const req = [0x4e, 0x02, 0x20, 0x06, 0x24, 0x01, 0x0a, 0x0e];
    req.push(...le16(0x1234), ...le16(0x0001), ...le32(0x00abcdef), 0, 0);
    return this.f.send(true, sendRR(req, this.session));
  }
}

export function enipIoSession(): Buffer {
  const ioS = { ...SCANNER, port: 2222 },
    ioA = { ...ADAPTER, port: 2222 };
  const frames = new ForwardOpenSession().open(); // frames 1-7
  for (let i = 1; i <= 3; i++) {
    frames.push(udp(ioS, ioA, ioDatagram(OT_ID, i, [1, 0, 0, 0, i, 0, 0, 0]))); // O→T run/idle header + data
    frames.push(udp(ioA, ioS, ioDatagram(TO_ID, i, [i, i, 0, 0])));
  }
  frames.push(udp(ioS, ioA, ioDatagram(UNKNOWN_ID, 1, [0, 0]))); // 14: nobody opened this connection
  return pcap(frames, 1_767_225_600, 0.01);
}
