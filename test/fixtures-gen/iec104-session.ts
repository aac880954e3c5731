// A realistic IEC 60870-5-104 session, crafted from the standard (no public capture is available here):
// STARTDT, general interrogation, spontaneous measurements, select/execute commands, clock sync, TESTFR,
// S-frames; several APDUs in one segment and one APDU split across two segments.
import { pcap, TcpFlow, type Endpoint } from './pcap-writer.js';

const scada: Endpoint = { mac: '02:10:4c:00:00:01', ip: '10.104.0.1', port: 49152 };
const rtu: Endpoint = { mac: '02:10:4c:00:00:02', ip: '10.104.0.20', port: 2404 };

let sendSeq = { scada: 0, rtu: 0 };

function u(bits: number): Buffer {
  return Buffer.from([0x68, 4, bits | 0x03, 0, 0, 0]);
}

function s(recv: number): Buffer {
  return Buffer.from([0x68, 4, 0x01, 0, (recv << 1) & 0xff, recv >> 7]);
}

/** I-format APDU: type, objects (ioa + element bytes), cause, common address 1; SQ when `sq`. */
function i(
  from: 'scada' | 'rtu',
  type: number,
  cause: number,
  objects: Array<[number, number[]]>,
  sq = false,
): Buffer {
  const ns = sendSeq[from]++;
  const nr = sendSeq[from === 'scada' ? 'rtu' : 'scada'];
  const body: number[] = [type, (sq ? 0x80 : 0) | objects.length, cause, 0, 1, 0];
  objects.forEach(([ioa, el], k) => {
    if (!sq || k === 0) body.push(ioa & 255, (ioa >> 8) & 255, (ioa >> 16) & 255);
    body.push(...el);
  });
  const apci = [0x68, body.length + 4, (ns << 1) & 0xff, ns >> 7, (nr << 1) & 0xff, nr >> 7];
  return Buffer.from([...apci, ...body]);
}

const float = (v: number) => {
  const b = Buffer.alloc(4);
  b.writeFloatLE(v);
  return [...b, 0];
};
const scaled = (v: number) => [v & 255, (v >> 8) & 255, 0];
const cp56 = [0x10, 0x27, 30, 10, 0x21, 1, 26];

export function iec104Session(): Buffer {
  sendSeq = { scada: 0, rtu: 0 };
  const f = new TcpFlow(scada, rtu);
  const frames: Buffer[] = [...f.handshake()];
  frames.push(f.send(true, u(0x04)), f.send(false, u(0x08))); // STARTDT act/con
  frames.push(f.send(true, i('scada', 100, 6, [[0, [20]]]))); // C_IC_NA_1 act
  // Interrogation answer: actcon + two measurement ASDUs + actterm in one segment.
  frames.push(
    f.send(
      false,
      Buffer.concat([
        i('rtu', 100, 7, [[0, [20]]]),
        i('rtu', 13, 20, [
          [1001, float(42.5)],
          [1002, float(17.25)],
          [1003, float(-3)],
        ]),
        i(
          'rtu',
          1,
          20,
          [
            [2001, [1]],
            [2002, [0]],
            [2003, [1]],
          ],
          true,
        ),
        i('rtu', 100, 10, [[0, [20]]]),
      ]),
    ),
  );
  frames.push(f.send(true, s(4)));
  for (let k = 0; k < 5; k++) {
    frames.push(f.send(false, i('rtu', 11, 3, [[3001, scaled(1200 + k * 7)]]))); // M_ME_NB_1 spontaneous
    frames.push(f.send(false, i('rtu', 36, 3, [[1001, [...float(42 + k), ...cp56]]]))); // M_ME_TF_1 with time tag
  }
  frames.push(f.send(true, s(14)));
  // Single command select then execute (C_SC_NA_1), double command (C_DC_NA_1), set-point (C_SE_NC_1).
  frames.push(
    f.send(true, i('scada', 45, 6, [[5001, [0x81]]])),
    f.send(false, i('rtu', 45, 7, [[5001, [0x81]]])),
  );
  frames.push(
    f.send(true, i('scada', 45, 6, [[5001, [0x01]]])),
    f.send(false, i('rtu', 45, 7, [[5001, [0x01]]])),
  );
  frames.push(
    f.send(true, i('scada', 46, 6, [[5002, [0x02]]])),
    f.send(false, i('rtu', 46, 7, [[5002, [0x02]]])),
  );
  const setpoint = i('scada', 50, 6, [[6001, float(55.5)]]);
  frames.push(f.send(true, setpoint.subarray(0, 9)), f.send(true, setpoint.subarray(9))); // split across segments
  frames.push(f.send(false, i('rtu', 50, 7, [[6001, float(55.5)]])));
  frames.push(
    f.send(true, i('scada', 103, 6, [[0, cp56]])),
    f.send(false, i('rtu', 103, 7, [[0, cp56]])),
  ); // clock sync
  frames.push(f.send(true, u(0x40)), f.send(false, u(0x80))); // TESTFR act/con
  frames.push(f.send(true, i('scada', 102, 5, [[1001, []]]))); // read command
  frames.push(f.send(false, i('rtu', 13, 5, [[1001, float(44.5)]])));
  frames.push(f.send(true, s(sendSeq.rtu)));
  return pcap(frames);
}
