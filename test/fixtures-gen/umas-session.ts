// A Schneider UMAS engineering session (Modbus FC 90) crafted from the public layout: identify the PLC, take
// the reservation, stop it (refused once with 0xFD), send a program in blocks (Schneider's "upload"), start it,
// read variables, release the reservation. Frame numbers are in the comments.
import { pcap, TcpFlow } from './pcap-writer.js';
import { modbusRequest } from '../helpers/ics-frames.js';

export const UMAS_EWS = { mac: '02:00:00:00:09:01', ip: '10.9.0.30', port: 49300 };
export const UMAS_PLC = { mac: '02:00:00:00:09:02', ip: '10.9.0.20', port: 502 };

const req = (tx: number, session: number, fn: number, data: number[] = []): Buffer =>
  Buffer.from(modbusRequest(tx, 90, [session, fn, ...data]));
/** A UMAS answer: MBAP, FC 90, session, status (0xFE OK / 0xFD error) and data. */
const res = (tx: number, session: number, status: number, data: number[] = []): Buffer =>
  Buffer.from(modbusRequest(tx, 90, [session, status, ...data]));

export function umasSession(): Buffer {
  const f = new TcpFlow(UMAS_EWS, UMAS_PLC);
  const frames = [...f.handshake()];
  const block = (n: number) => [0x00, 0x01, n, 0x00, 0x04, 0x00, 1, 2, 3, 4];
  frames.push(f.send(true, req(1, 0, 0x02))); // 4 READ_ID
  frames.push(f.send(true, req(2, 0, 0x10, [0x3b, 0x01, 0x45, 0x57, 0x53]))); // 5 TAKE_PLC_RESERVATION
  frames.push(f.send(false, res(2, 0, 0xfe, [0xc7]))); // 6 granted, key 0xC7
  frames.push(f.send(true, req(3, 0xc7, 0x41))); // 7 STOP_PLC
  frames.push(f.send(false, res(3, 0xc7, 0xfd, [0x81]))); // 8 refused
  frames.push(f.send(true, req(4, 0xc7, 0x41))); // 9 STOP_PLC again
  frames.push(f.send(false, res(4, 0xc7, 0xfe))); // 10 OK
  frames.push(f.send(true, req(5, 0xc7, 0x30, [0x00, 0x01]))); // 11 INITIALIZE_UPLOAD
  frames.push(f.send(true, req(6, 0xc7, 0x31, block(1)))); // 12 UPLOAD_BLOCK
  frames.push(f.send(true, req(7, 0xc7, 0x31, block(2)))); // 13 UPLOAD_BLOCK
  frames.push(f.send(true, req(8, 0xc7, 0x32, [0x00, 0x01]))); // 14 END_STRATEGY_UPLOAD
  frames.push(f.send(true, req(9, 0xc7, 0x40))); // 15 START_PLC
  frames.push(f.send(true, req(10, 0xc7, 0x22, [0x00]))); // 16 READ_VARIABLES: no operation
  frames.push(f.send(true, req(11, 0xc7, 0x11))); // 17 RELEASE_PLC_RESERVATION: no operation
  return pcap(frames);
}
