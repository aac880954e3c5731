// S7comm sessions crafted from the protocol (COTP ISO 8073 class 0 over TPKT): a normal HMI poll, and the same
// pair sending jobs segmented over several COTP DT TPDUs (EOT clear until the last), the way a client with a
// small negotiated TPDU size, or one hiding a job from a per-TPKT filter, sends them.
import { pcap, TcpFlow, type Endpoint } from './pcap-writer.js';

export const hmi: Endpoint = { mac: '02:00:5e:07:00:0a', ip: '10.7.0.10', port: 49200 };
export const plc: Endpoint = { mac: '02:00:5e:07:00:14', ip: '10.7.0.20', port: 102 };

const TPKT = (body: Buffer): Buffer =>
  Buffer.concat([Buffer.from([3, 0, (body.length + 4) >> 8, (body.length + 4) & 255]), body]);

/** COTP connection request (CR) or confirm (CC) with TPDU size 1024 and rack 0 / slot 2 TSAPs. */
function connect(type: 0xe0 | 0xd0): Buffer {
  return TPKT(
    Buffer.from([
      0x11,
      type,
      0,
      type === 0xd0 ? 1 : 0,
      0,
      1,
      0,
      0xc0,
      1,
      0x0a,
      0xc1,
      2,
      1,
      0,
      0xc2,
      2,
      1,
      2,
    ]),
  );
}

/** One COTP DT TPDU: `eot` marks the last data unit of a TSDU. */
export function dt(data: Buffer, eot = true): Buffer {
  return TPKT(Buffer.concat([Buffer.from([2, 0xf0, eot ? 0x80 : 0]), data]));
}

/** An S7 PDU: header (ROSCTR, reference, parameter and data lengths; ack-data carries error class/code), parameters, data. */
export function s7(rosctr: 1 | 3, ref: number, param: number[], data: number[] = []): Buffer {
  const h = [
    0x32,
    rosctr,
    0,
    0,
    ref >> 8,
    ref & 255,
    param.length >> 8,
    param.length & 255,
    data.length >> 8,
    data.length & 255,
  ];
  if (rosctr === 3) h.push(0, 0);
  return Buffer.from([...h, ...param, ...data]);
}

const setup = (ref: number) => s7(1, ref, [0xf0, 0, 0, 1, 0, 1, 0x03, 0xc0]);
const setupAck = (ref: number) => s7(3, ref, [0xf0, 0, 0, 1, 0, 1, 0x00, 0xf0]);
/** Any-pointer item: 4 bytes (transport size BYTE) of DB1 from byte `byte`. */
const item = (byte: number) => [
  0x12,
  0x0a,
  0x10,
  0x02,
  0,
  4,
  0,
  1,
  0x84,
  (byte * 8) >> 16,
  ((byte * 8) >> 8) & 255,
  (byte * 8) & 255,
];
export const readVar = (ref: number, byte = 0) => s7(1, ref, [0x04, 1, ...item(byte)]);
const readAck = (ref: number) => s7(3, ref, [0x04, 1], [0xff, 0x04, 0, 32, 0, 0, 0x01, 0x2c]);
export const writeVar = (ref: number, byte = 16) =>
  s7(1, ref, [0x05, 1, ...item(byte)], [0, 0x04, 0, 32, 0xde, 0xad, 0xbe, 0xef]);
const writeAck = (ref: number) => s7(3, ref, [0x05, 1], [0xff]);
/** PLC STOP (function 0x29) with the P_PROGRAM PI service. */
export const plcStop = (ref: number) =>
  s7(1, ref, [0x29, 0, 0, 0, 0, 0, 9, ...Buffer.from('P_PROGRAM')]);
const stopAck = (ref: number) => s7(3, ref, [0x29]);

/** Split `pdu` at the given offsets into DT TPDUs, EOT set on the last only. */
export function fragments(pdu: Buffer, cuts: number[]): Buffer[] {
  const at = [0, ...cuts, pdu.length];
  return at.slice(1).map((end, i) => dt(pdu.subarray(at[i]!, end), i === at.length - 2));
}

function opened(f: TcpFlow): Buffer[] {
  return [
    ...f.handshake(),
    f.send(true, connect(0xe0)),
    f.send(false, connect(0xd0)),
    f.send(true, dt(setup(1))),
    f.send(false, dt(setupAck(1))),
  ];
}

/** Known-good traffic: the HMI reads DB1 every 200 ms. */
export function s7NormalSession(polls = 100): Buffer {
  const f = new TcpFlow(hmi, plc);
  const frames = opened(f);
  for (let i = 0; i < polls; i++)
    frames.push(f.send(true, dt(readVar(100 + i))), f.send(false, dt(readAck(100 + i))));
  return pcap(frames, 1_767_225_600, 0.1);
}

export interface FragmentedSession {
  pcap: Buffer;
  /** 1-based frame numbers of the last fragment of each segmented job, and of the whole READ_VAR after them. */
  writeFrame: number;
  stopFrame: number;
  readFrame: number;
}

/** The same pair, later: a WRITE_VAR in two DT fragments, a PLC STOP in three, then a normal READ_VAR. */
export function s7FragmentedSession(): FragmentedSession {
  const f = new TcpFlow(hmi, plc);
  const frames = opened(f);
  for (let i = 0; i < 5; i++)
    frames.push(f.send(true, dt(readVar(10 + i))), f.send(false, dt(readAck(10 + i))));
  // WRITE_VAR cut inside the item (function and item count in the first fragment, address and data in the second).
  for (const tpdu of fragments(writeVar(20), [14])) frames.push(f.send(true, tpdu));
  const writeFrame = frames.length;
  frames.push(f.send(false, dt(writeAck(20))));
  // PLC STOP cut inside the header and inside the PI service name: no fragment alone shows function 0x29.
  for (const tpdu of fragments(plcStop(21), [7, 16])) frames.push(f.send(true, tpdu));
  const stopFrame = frames.length;
  frames.push(f.send(false, dt(stopAck(21))));
  frames.push(f.send(true, dt(readVar(22))));
  const readFrame = frames.length;
  frames.push(f.send(false, dt(readAck(22))));
  return { pcap: pcap(frames, 1_767_312_000, 0.1), writeFrame, stopFrame, readFrame };
}
