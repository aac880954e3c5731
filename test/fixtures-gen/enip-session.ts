// An EtherNet/IP session crafted from the specification (CIP Vol 2, little-endian): register a session, read a
// tag through Unconnected Send, stop the controller, then a request whose CPF item overruns the packet.
import { pcap, TcpFlow } from './pcap-writer.js';

/** An encapsulation header (command, length, session handle, status, context, options) followed by `data`. */
function encap(cmd: number, data: number[], session: number): Buffer {
  const h = Buffer.alloc(24);
  h.writeUInt16LE(cmd, 0);
  h.writeUInt16LE(data.length, 2);
  h.writeUInt32LE(session, 4);
  return Buffer.concat([h, Buffer.from(data)]);
}

const le16 = (n: number): number[] => [n & 255, n >> 8];

/** SendRRData: interface handle 0, timeout 10 s, CPF with a null address item and one unconnected data item. */
function sendRR(cip: number[], session: number): Buffer {
  return encap(
    0x6f,
    [0, 0, 0, 0, ...le16(10), ...le16(2), 0, 0, 0, 0, 0xb2, 0, ...le16(cip.length), ...cip],
    session,
  );
}

/** Read Tag 'Speed' (one element), symbolic path padded to a whole word. */
const readTag = [0x4c, 0x04, 0x91, 0x05, ...Buffer.from('Speed'), 0x00, ...le16(1)];
/** Unconnected Send to the Connection Manager (class 6, instance 1) carrying `inner`, routed to port 1 slot 0. */
const unconnectedSend = (inner: number[]): number[] => [
  0x52,
  0x02,
  0x20,
  0x06,
  0x24,
  0x01,
  0x0a,
  0x0e,
  ...le16(inner.length),
  ...inner,
  0x01,
  0x00,
  0x01,
  0x00,
];

export function enipSession(): Buffer {
  const f = new TcpFlow(
    { mac: '02:00:00:00:2c:01', ip: '10.44.0.10', port: 50100 },
    { mac: '02:00:00:00:2c:02', ip: '10.44.0.20', port: 44818 },
  );
  const session = 0x12345678;
  const frames = [
    ...f.handshake(),
    f.send(true, encap(0x65, [1, 0, 0, 0], 0)),
    f.send(false, encap(0x65, [1, 0, 0, 0], session)),
    f.send(true, sendRR(unconnectedSend(readTag), session)),
    // Read Tag reply: DINT (0xc4) 1500.
    f.send(false, sendRR([0xcc, 0, 0, 0, 0xc4, 0, ...le16(1500), 0, 0], session)),
    // CIP Stop on the program object (class 0x64, instance 1), and its reply.
    f.send(true, sendRR([0x07, 0x02, 0x20, 0x64, 0x24, 0x01], session)),
    f.send(false, sendRR([0x87, 0, 0, 0], session)),
    // A CPF item claiming 40 bytes where 4 follow.
    f.send(
      true,
      encap(
        0x6f,
        [0, 0, 0, 0, ...le16(10), ...le16(1), 0xb2, 0, ...le16(40), 0x0e, 0x01, 0x20, 0x01],
        session,
      ),
    ),
  ];
  return pcap(frames, 1_767_484_800, 0.05);
}
