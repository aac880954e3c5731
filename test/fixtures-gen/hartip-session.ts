// HART-IP sessions crafted from the public layout (HCF_SPEC-085 header, HCF_SPEC-081 PDU, HCF_SPEC-127 universal
// commands): an asset-management client over UDP that identifies a HART 7 transmitter, reads it, re-ranges it and
// resets it; a second client over TCP that identifies a HART 5 device, reads its PV and sends one PDU with a bad
// check byte. No HART-IP peer runs here, so tshark's hart_ip dissector is the check (test/dissect/oracle/hartip.ts).
import { pcap, TcpFlow, udp, type Endpoint } from './pcap-writer.js';

const PORT = 5094;

/** HART-IP header (version 1, type, message id, status, sequence, byte count) and body. */
function hartip(type: number, id: number, seq: number, body: number[], status = 0): Buffer {
  const h = Buffer.alloc(8);
  h[0] = 1;
  h[1] = type;
  h[2] = id;
  h[3] = status;
  h.writeUInt16BE(seq, 4);
  h.writeUInt16BE(8 + body.length, 6);
  return Buffer.concat([h, Buffer.from(body)]);
}

/** A HART PDU: delimiter, address, command, byte count, data and the XOR check byte. */
function pdu(delimiter: number, address: number[], command: number, data: number[]): number[] {
  const b = [delimiter, ...address, command, data.length, ...data];
  return [...b, b.reduce((x, y) => x ^ y, 0)];
}

const f32 = (v: number): number[] => {
  const b = Buffer.alloc(4);
  b.writeFloatBE(v);
  return [...b];
};

const REQUEST = 0,
  RESPONSE = 1;
const INITIATE = 0,
  CLOSE = 1,
  KEEP_ALIVE = 2,
  PASS = 3;
/** Session initiate body: primary master, inactivity close timer 30 s. */
const initiate = [1, 0, 0, 0x75, 0x30];

/** Long address of the HART 7 transmitter: expanded device type 0x2657, device id 0x0A1B2C; bit 7 = primary master. */
const LONG = [0x80 | 0x26, 0x57, 0x0a, 0x1b, 0x2c];
/** Command 0 reply of a HART 7 device: 22 bytes (HCF_SPEC-127 Table 6.1). */
const cmd0Hart7 = [
  0xfe, // expansion code
  0x26,
  0x57, // expanded device type
  5, // minimum request preambles
  7, // universal command revision
  10, // device revision
  3, // software revision
  (5 << 3) | 0, // hardware revision 5, physical signaling Bell 202 current
  0, // flags
  0x0a,
  0x1b,
  0x2c, // device id
  5, // minimum response preambles
  4, // maximum device variables
  0x00,
  0x11, // configuration change counter
  0, // extended field device status
  0x00,
  0x26, // manufacturer id
  0x00,
  0x26, // private label distributor
  1, // device profile: process automation device
];

export function hartipSession(): Buffer {
  const client: Endpoint = { mac: '02:00:00:00:50:0a', ip: '10.50.0.10', port: 50000 };
  const gateway: Endpoint = { mac: '02:00:00:00:50:14', ip: '10.50.0.20', port: PORT };
  const req = (id: number, seq: number, body: number[]) =>
    udp(client, gateway, hartip(REQUEST, id, seq, body));
  const rsp = (id: number, seq: number, body: number[], status = 0) =>
    udp(gateway, client, hartip(RESPONSE, id, seq, body, status));
  const frames: Buffer[] = [
    req(INITIATE, 1, initiate),
    rsp(INITIATE, 1, initiate),
    // Command 0 to polling address 0 (short frame), and the identity reply.
    req(PASS, 2, pdu(0x02, [0x80], 0, [])),
    rsp(PASS, 2, pdu(0x06, [0x80], 0, [0, 0x50, ...cmd0Hart7])),
    // Command 3 (dynamic variables and loop current) by long address.
    req(PASS, 3, pdu(0x82, LONG, 3, [])),
    rsp(
      PASS,
      3,
      pdu(0x86, LONG, 3, [
        0,
        0x50,
        ...f32(12.5),
        12,
        ...f32(53.1),
        32,
        ...f32(21.4),
        0xfa,
        ...f32(0),
        0xfa,
        ...f32(0),
      ]),
    ),
    // Command 35: write PV range values (units kPa = 12, upper 250, lower 0) — a re-range.
    req(PASS, 4, pdu(0x82, LONG, 35, [12, ...f32(250), ...f32(0)])),
    rsp(PASS, 4, pdu(0x86, LONG, 35, [0, 0x50, 12, ...f32(250), ...f32(0)])),
    req(KEEP_ALIVE, 5, []),
    rsp(KEEP_ALIVE, 5, []),
    // Command 42: device reset; then command 48 from a device that answers "busy" (response code 32).
    req(PASS, 6, pdu(0x82, LONG, 42, [])),
    rsp(PASS, 6, pdu(0x86, LONG, 42, [0, 0x50])),
    req(PASS, 7, pdu(0x82, LONG, 48, [])),
    rsp(PASS, 7, pdu(0x86, LONG, 48, [32, 0x50])),
    req(CLOSE, 8, []),
    rsp(CLOSE, 8, []),
  ];

  const f = new TcpFlow(
    { mac: '02:00:00:00:50:0b', ip: '10.50.0.11', port: 50100 },
    { mac: '02:00:00:00:50:14', ip: '10.50.0.20', port: PORT },
  );
  // A HART 5 device: the manufacturer is the first byte of the device type.
  const cmd0Hart5 = [0xfe, 0x11, 0x3c, 5, 5, 2, 1, 1 << 3, 0, 0x00, 0x04, 0xd2];
  const badCheck = pdu(0x02, [0x81], 1, []);
  badCheck[badCheck.length - 1] ^= 0x55;
  frames.push(
    ...f.handshake(),
    f.send(true, hartip(REQUEST, INITIATE, 1, initiate)),
    f.send(false, hartip(RESPONSE, INITIATE, 1, initiate)),
    f.send(true, hartip(REQUEST, PASS, 2, pdu(0x02, [0x81], 0, []))),
    f.send(false, hartip(RESPONSE, PASS, 2, pdu(0x06, [0x81], 0, [0, 0, ...cmd0Hart5]))),
    f.send(true, hartip(REQUEST, PASS, 3, pdu(0x02, [0x81], 1, []))),
    f.send(false, hartip(RESPONSE, PASS, 3, pdu(0x06, [0x81], 1, [0, 0, 32, ...f32(21.4)]))),
    // Two messages in one segment, framed by their byte counts: command 1 with a bad check byte, then keep-alive.
    f.send(
      true,
      Buffer.concat([hartip(REQUEST, PASS, 4, badCheck), hartip(REQUEST, KEEP_ALIVE, 5, [])]),
    ),
    f.send(false, hartip(RESPONSE, KEEP_ALIVE, 5, [])),
    f.send(true, hartip(REQUEST, CLOSE, 6, [])),
    f.send(false, hartip(RESPONSE, CLOSE, 6, [])),
  );
  return pcap(frames);
}
