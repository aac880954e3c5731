// A PROFINET IO controller bringing up an application relation with a device, crafted from IEC 61158-6-10:
// DCE/RPC (connectionless, little-endian) on UDP 34964 with Connect, Write (parameters), Control (PrmEnd), Read
// of I&M0, Release; and cyclic RT_CLASS_1 frames on EtherType 0x8892 (one VLAN tagged).
import { ethernet, pcap, udp, type Endpoint } from './pcap-writer.js';

export const controller: Endpoint = { mac: '02:00:5e:88:00:0a', ip: '10.88.0.10', port: 49153 };
export const device: Endpoint = { mac: '02:00:5e:88:00:14', ip: '10.88.0.20', port: 34964 };

const AR_UUID = Buffer.from('8f2d6a0e4c1b4d2a9e3f5a6b7c8d9e0f', 'hex');
const ACTIVITY = Buffer.from('0b1c2d3e4f5061728394a5b6c7d8e9fa', 'hex');

const be16 = (v: number) => [(v >> 8) & 255, v & 255];
const be32 = (v: number) => [(v >>> 24) & 255, (v >>> 16) & 255, (v >>> 8) & 255, v & 255];
const le32 = (v: number) => [v & 255, (v >>> 8) & 255, (v >>> 16) & 255, (v >>> 24) & 255];

/** A PNIO block: type, length (from the version on), version 1.0, content. */
function block(type: number, ...content: Array<number[] | Buffer>): Buffer {
  const body = Buffer.concat(content.map((c) => (Buffer.isBuffer(c) ? c : Buffer.from(c))));
  return Buffer.concat([Buffer.from([...be16(type), ...be16(body.length + 2), 1, 0]), body]);
}

/** A UUID as DCE/RPC little-endian data representation stores it (first three fields swapped). */
function uuidLe(s: string): Buffer {
  const h = Buffer.from(s.replace(/-/g, ''), 'hex');
  return Buffer.concat([
    Buffer.from(h.subarray(0, 4)).reverse(),
    Buffer.from(h.subarray(4, 6)).reverse(),
    Buffer.from(h.subarray(6, 8)).reverse(),
    h.subarray(8),
  ]);
}
const DEVICE_IF = uuidLe('dea00001-6c97-11d1-8271-00a02442df7d');
const OBJECT = uuidLe('dea00000-6c97-11d1-8271-0001002a0310');

/** Connectionless DCE/RPC PDU: 80-byte header (drep little-endian), then the NDR body. */
function rpc(ptype: 0 | 2, seq: number, opnum: number, body: Buffer): Buffer {
  const h = Buffer.alloc(80);
  h[0] = 4;
  h[1] = ptype;
  h[2] = ptype === 0 ? 0x20 : 0x0a; // idempotent request / last fragment + no fack
  h[4] = 0x10;
  OBJECT.copy(h, 8);
  DEVICE_IF.copy(h, 24);
  ACTIVITY.copy(h, 40);
  h.writeUInt32LE(1, 60); // interface version
  h.writeUInt32LE(seq, 64);
  h.writeUInt16LE(opnum, 68);
  h.writeUInt16LE(0xffff, 70);
  h.writeUInt16LE(0xffff, 72);
  h.writeUInt16LE(body.length, 74);
  return Buffer.concat([h, body]);
}

const request = (blocks: Buffer[]): Buffer => {
  const b = Buffer.concat(blocks);
  return Buffer.concat([
    Buffer.from([...le32(1024), ...le32(b.length), ...le32(1024), ...le32(0), ...le32(b.length)]),
    b,
  ]);
};
const response = (blocks: Buffer[], status = 0): Buffer => {
  const b = Buffer.concat(blocks);
  return Buffer.concat([
    Buffer.from([...be32(status), ...le32(b.length), ...le32(1024), ...le32(0), ...le32(b.length)]),
    b,
  ]);
};

const STATION = 'plc-line1';

function arBlockReq(): Buffer {
  return block(
    0x0101,
    be16(0x0001), // IOCARSingle
    AR_UUID,
    be16(1), // session key
    Buffer.from(controller.mac.replace(/:/g, ''), 'hex'),
    uuidLe('dea00000-6c97-11d1-8271-000100020001'),
    be32(0x00000011), // ARProperties: state active, supervisor takeover allowed
    be16(100),
    be16(0x8892),
    be16(STATION.length),
    Buffer.from(STATION, 'latin1'),
  );
}
const arBlockRes = (): Buffer =>
  block(
    0x8101,
    be16(0x0001),
    AR_UUID,
    be16(1),
    Buffer.from(device.mac.replace(/:/g, ''), 'hex'),
    be16(0x8892),
  );

function recordHeader(
  type: number,
  seq: number,
  slot: number,
  subslot: number,
  index: number,
  length: number,
  tail: number[],
): Buffer {
  return block(
    type,
    be16(seq),
    AR_UUID,
    be32(0),
    be16(slot),
    be16(subslot),
    [0, 0],
    be16(index),
    be32(length),
    tail,
  );
}
const control = (type: number, command: number): Buffer =>
  block(type, [0, 0], AR_UUID, be16(1), [0, 0], be16(command), be16(0));

const PARAMS = Buffer.from([0x00, 0x01, 0x00, 0x64]); // a module parameter record: 4 bytes

function im0(): Buffer {
  const order = Buffer.alloc(20, 0x20);
  order.write('6ES7 155-6AU01-0BN0', 'latin1');
  const serial = Buffer.alloc(16, 0x20);
  serial.write('S C-X4U812345', 'latin1');
  return block(
    0x0020,
    be16(0x002a),
    order,
    serial,
    be16(3),
    [0x56, 4, 2, 1], // V4.2.1
    be16(0),
    be16(0xf600),
    be16(0x0004),
    [1, 1],
    be16(0x001e),
  );
}

/** The context management exchange, controller → device then back, as UDP payloads. */
export function cmExchanges(): Array<[boolean, Buffer]> {
  const rec = im0();
  return [
    [true, rpc(0, 0, 0, request([arBlockReq()]))],
    [false, rpc(2, 0, 0, response([arBlockRes()]))],
    [
      true,
      rpc(
        0,
        1,
        3,
        request([
          recordHeader(0x0008, 1, 1, 1, 0x0001, PARAMS.length, new Array(24).fill(0)),
          PARAMS,
        ]),
      ),
    ],
    [
      false,
      rpc(
        2,
        1,
        3,
        response([recordHeader(0x8008, 1, 1, 1, 0x0001, PARAMS.length, new Array(24).fill(0))]),
      ),
    ],
    [true, rpc(0, 2, 4, request([control(0x0110, 0x0001)]))], // PrmEnd
    [false, rpc(2, 2, 4, response([control(0x8110, 0x0008)]))], // Done
    [
      true,
      rpc(0, 3, 2, request([recordHeader(0x0009, 2, 0, 1, 0xaff0, 4096, new Array(24).fill(0))])),
    ],
    [
      false,
      rpc(
        2,
        3,
        2,
        response([recordHeader(0x8009, 2, 0, 1, 0xaff0, rec.length, new Array(24).fill(0)), rec]),
      ),
    ],
    [true, rpc(0, 4, 1, request([control(0x0114, 0x0004)]))], // Release
    [false, rpc(2, 4, 1, response([control(0x8114, 0x0008)]))],
  ];
}

/** A cyclic RT frame: frame id, I/O data (each byte followed by IOPS good), cycle counter, data and transfer status. */
export function rtFrame(
  src: string,
  frameId: number,
  cycle: number,
  data: number[],
  vlan = false,
): Buffer {
  const io: number[] = [];
  for (const d of data) io.push(d, 0x80);
  while (io.length < 40) io.push(0);
  const payload = Buffer.from([...be16(frameId), ...io, ...be16(cycle), 0x35, 0x00]);
  const dst = src === device.mac ? controller.mac : device.mac;
  if (!vlan) return ethernet(dst, src, 0x8892, payload);
  return ethernet(
    dst,
    src,
    0x8100,
    Buffer.concat([Buffer.from([0xc0, 0x00, 0x88, 0x92]), payload]),
  );
}

export function profinetIoSession(): Buffer {
  const frames: Buffer[] = [];
  for (const [toDevice, b] of cmExchanges())
    frames.push(toDevice ? udp(controller, device, b) : udp(device, controller, b));
  for (let i = 0; i < 4; i++) {
    frames.push(rtFrame(device.mac, 0x8001, 32 * i, [i, 0x10], i === 3));
    frames.push(rtFrame(controller.mac, 0xc001, 32 * i, [0x01, i]));
  }
  return pcap(frames, 1_767_225_600, 0.01);
}
