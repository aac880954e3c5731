// Byte builders for client requests of the protocols the gateway guards, from the public layouts: used by the
// inspector tests and by the lab agent that sends hostile framing to the real PLCs.

/** A Modbus/TCP request: MBAP (tx, protocol, length, unit) + function + data. */
export function modbusRequest(
  tx: number,
  fc: number,
  data: number[],
  opts: { protocol?: number; length?: number; unit?: number } = {},
): Uint8Array {
  const len = opts.length ?? data.length + 2;
  const p = opts.protocol ?? 0;
  return Uint8Array.from([
    tx >> 8,
    tx & 255,
    p >> 8,
    p & 255,
    len >> 8,
    len & 255,
    opts.unit ?? 1,
    fc,
    ...data,
  ]);
}

export const u16 = (v: number): number[] => [v >> 8, v & 255];

/** TPKT (RFC 1006) around a COTP data TPDU carrying `data`; `eot` false marks a fragment with more to come. */
export function cotpData(
  data: number[],
  opts: { eot?: boolean; version?: number } = {},
): Uint8Array {
  const cotp = [0x02, 0xf0, opts.eot === false ? 0x00 : 0x80];
  const len = 4 + cotp.length + data.length;
  return Uint8Array.from([opts.version ?? 3, 0, len >> 8, len & 255, ...cotp, ...data]);
}

/** An S7comm job: header (protocol id, ROSCTR 1, reference, parameter and data lengths) + parameters + data. */
export function s7Job(ref: number, params: number[], data: number[] = []): number[] {
  return [
    0x32,
    0x01,
    0,
    0,
    ...u16(ref),
    ...u16(params.length),
    ...u16(data.length),
    ...params,
    ...data,
  ];
}

/** S7 WRITE_VAR of bytes into DB `db` at byte `start`. */
export function s7WriteVar(ref: number, db: number, start: number, bytes: number[]): number[] {
  const bit = start * 8;
  const item = [
    0x12,
    0x0a,
    0x10,
    0x02,
    ...u16(bytes.length),
    ...u16(db),
    0x84,
    (bit >> 16) & 255,
    (bit >> 8) & 255,
    bit & 255,
  ];
  return s7Job(ref, [0x05, 0x01, ...item], [0x00, 0x04, ...u16(bytes.length * 8), ...bytes]);
}

/** S7 PLC STOP (function 0x29) with the usual "P_PROGRAM" service name. */
export function s7PlcStop(ref: number): number[] {
  const name = [...Buffer.from('P_PROGRAM')];
  return s7Job(ref, [0x29, 0, 0, 0, 0, 0, 9, ...name]);
}

/** DNP3 CRC (polynomial 0x3D65, reflected), complemented, low byte first. */
function dnp3Crc(b: number[]): number[] {
  let crc = 0;
  for (const x of b) {
    crc ^= x;
    for (let i = 0; i < 8; i++) crc = crc & 1 ? (crc >>> 1) ^ 0xa6bc : crc >>> 1;
  }
  crc = ~crc & 0xffff;
  return [crc & 255, crc >> 8];
}

/** One DNP3 link frame (master → outstation, primary, unconfirmed user data) carrying one transport segment. */
export function dnp3Frame(dest: number, src: number, segment: number[]): Uint8Array {
  const header = [0x05, 0x64, 5 + segment.length, 0xc4, dest & 255, dest >> 8, src & 255, src >> 8];
  const out = [...header, ...dnp3Crc(header)];
  for (let i = 0; i < segment.length; i += 16) {
    const block = segment.slice(i, i + 16);
    out.push(...block, ...dnp3Crc(block));
  }
  return Uint8Array.from(out);
}

/** A whole DNP3 application request in one transport segment (FIR and FIN). */
export function dnp3Request(fc: number, objects: number[], seq = 0): Uint8Array {
  return dnp3Frame(10, 1, [0xc0 | (seq & 0x3f), 0xc0 | (seq & 0x0f), fc, ...objects]);
}

/** DNP3 CROB (g12v1) on point `index`: latch on, once. */
export const crob = (index: number): number[] => [
  12,
  1,
  0x17,
  1,
  index,
  0x03,
  1,
  100,
  0,
  0,
  0,
  100,
  0,
  0,
  0,
  0,
];
/** Class 0 read (g60v1, all objects). */
export const class0 = [60, 1, 0x06];

/** An EtherNet/IP encapsulation header + data. */
export function enip(command: number, session: number, data: number[]): Uint8Array {
  const h = [
    command & 255,
    command >> 8,
    data.length & 255,
    data.length >> 8,
    session & 255,
    (session >> 8) & 255,
    (session >> 16) & 255,
    session >>> 24,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
  ];
  return Uint8Array.from([...h, ...data]);
}

/** SendRRData with one unconnected CIP request (null address item + unconnected data item). */
export function sendRRData(session: number, cip: number[]): Uint8Array {
  return enip(0x6f, session, [
    0,
    0,
    0,
    0,
    10,
    0,
    2,
    0,
    0,
    0,
    0,
    0,
    0xb2,
    0,
    cip.length & 255,
    cip.length >> 8,
    ...cip,
  ]);
}

/** CIP request: service, path of class/instance/attribute (8-bit segments), data. */
export function cipRequest(
  service: number,
  cls: number,
  inst: number,
  attr: number | null,
  data: number[] = [],
): number[] {
  const path = [0x20, cls, 0x24, inst, ...(attr !== null ? [0x30, attr] : [])];
  return [service, path.length / 2, ...path, ...data];
}

export const registerSession = (): Uint8Array => enip(0x65, 0, [1, 0, 0, 0]);
