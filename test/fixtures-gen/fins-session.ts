// Omron FINS sessions crafted from W342 (FINS commands) and W421 (FINS/TCP): an HMI reading D100..D109 over UDP
// and writing a setpoint, then an engineering station over FINS/TCP that reads the controller data, stops the
// PLC, reads the program area, sets the clock and puts the PLC back in RUN. Checked against tshark's omron dissector.
import { pcap, TcpFlow, udp, type Endpoint } from './pcap-writer.js';

const PORT = 9600;

/** A FINS frame: ICF, RSV, GCT 2, destination net/node/unit, source net/node/unit, SID, command, data. */
function fins(
  response: boolean,
  dst: number,
  src: number,
  sid: number,
  cmd: number,
  data: number[],
): Buffer {
  return Buffer.from([
    response ? 0xc0 : 0x80,
    0,
    2,
    0,
    dst,
    0,
    0,
    src,
    0,
    sid,
    cmd >> 8,
    cmd & 0xff,
    ...data,
  ]);
}

/** FINS/TCP header: 'FINS', length of what follows, command, error code. */
function finsTcp(command: number, body: Buffer, error = 0): Buffer {
  const h = Buffer.alloc(16);
  h.write('FINS', 0, 'ascii');
  h.writeUInt32BE(8 + body.length, 4);
  h.writeUInt32BE(command, 8);
  h.writeUInt32BE(error, 12);
  return Buffer.concat([h, body]);
}

const be16 = (n: number): number[] => [n >> 8, n & 0xff];
const ok = [0, 0];
const ascii = (s: string, n: number): number[] => [
  ...Buffer.from(s.padEnd(n, '\0').slice(0, n), 'ascii'),
];

export function finsSession(): Buffer {
  const hmi: Endpoint = { mac: '02:00:00:00:96:0a', ip: '10.96.0.10', port: PORT };
  const plc: Endpoint = { mac: '02:00:00:00:96:14', ip: '10.96.0.20', port: PORT };
  const frames: Buffer[] = [];
  const PLC_NODE = 20,
    HMI_NODE = 10,
    EWS_NODE = 30;
  for (let i = 0; i < 3; i++) {
    // Memory area read: D (0x82) word 100, bit 0, 10 words.
    frames.push(
      udp(
        hmi,
        plc,
        fins(false, PLC_NODE, HMI_NODE, i, 0x0101, [0x82, ...be16(100), 0, ...be16(10)]),
      ),
    );
    const words: number[] = [];
    for (let w = 0; w < 10; w++) words.push(...be16(1000 + w + i));
    frames.push(udp(plc, hmi, fins(true, HMI_NODE, PLC_NODE, i, 0x0101, [...ok, ...words])));
  }
  // Memory area write: D200 := 1500.
  frames.push(
    udp(
      hmi,
      plc,
      fins(false, PLC_NODE, HMI_NODE, 3, 0x0102, [
        0x82,
        ...be16(200),
        0,
        ...be16(1),
        ...be16(1500),
      ]),
    ),
  );
  frames.push(udp(plc, hmi, fins(true, HMI_NODE, PLC_NODE, 3, 0x0102, ok)));

  const f = new TcpFlow(
    { mac: '02:00:00:00:96:1e', ip: '10.96.0.30', port: 50300 },
    { mac: plc.mac, ip: plc.ip, port: PORT },
  );
  const req = (sid: number, cmd: number, data: number[]) =>
    f.send(true, finsTcp(2, fins(false, PLC_NODE, EWS_NODE, sid, cmd, data)));
  const rsp = (sid: number, cmd: number, data: number[]) =>
    f.send(false, finsTcp(2, fins(true, EWS_NODE, PLC_NODE, sid, cmd, data)));
  frames.push(
    ...f.handshake(),
    f.send(true, finsTcp(0, Buffer.from([0, 0, 0, 0]))),
    f.send(false, finsTcp(1, Buffer.from([0, 0, 0, EWS_NODE, 0, 0, 0, PLC_NODE]))),
    req(1, 0x0501, []),
    rsp(1, 0x0501, [
      ...ok,
      ...ascii('CJ2M-CPU31', 20),
      ...ascii('02.01', 20),
      ...new Array(40).fill(0),
    ]),
    // STOP (program mode), then program area read of 32 words from word 0 (program number 0xFFFF).
    req(2, 0x0402, [0xff, 0xff]),
    rsp(2, 0x0402, ok),
    req(3, 0x0306, [0xff, 0xff, 0, 0, 0, 0, ...be16(32)]),
    rsp(3, 0x0306, [
      ...ok,
      0xff,
      0xff,
      0,
      0,
      0,
      0,
      ...be16(32 | 0x8000),
      ...new Array(32).fill(0x5a),
    ]),
    // Clock write: 2026-01-01 08:00:00, then RUN in monitor mode (0x02) — refused once with end code 0x2102
    // (the PLC is write-protected), then accepted.
    req(4, 0x0702, [0x26, 0x01, 0x01, 0x08, 0x00, 0x00, 0x04]),
    rsp(4, 0x0702, ok),
    req(5, 0x0401, [0xff, 0xff, 0x02]),
    rsp(5, 0x0401, [0x21, 0x02]),
    req(6, 0x0401, [0xff, 0xff, 0x02]),
    rsp(6, 0x0401, ok),
  );
  return pcap(frames);
}
