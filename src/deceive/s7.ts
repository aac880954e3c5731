import type { DecoyIdentity } from './identity-model.js';

/**
 * S7comm over COTP/TPKT as the cloned CPU answers it: connect (CR → CC), setup communication, and the SZL
 * reads scanners and engineering tools use to identify a CPU (0x0011 module identification, 0x001C component
 * identification, 0x0424 mode). Everything else is refused the way a CPU refuses an unknown job.
 */
export class S7Decoy {
  private connected = false;

  constructor(private readonly id: DecoyIdentity) {}

  /** Answers for every complete TPKT in `buf`; an unframeable stream ends the conversation (null). */
  feed(buf: Buffer): { out: Buffer[]; rest: Buffer } | null {
    const out: Buffer[] = [];
    let p = 0;
    while (buf.length - p >= 4) {
      if (buf[p] !== 3) return null;
      const len = buf.readUInt16BE(p + 2);
      if (len < 7) return null;
      if (buf.length - p < len) break;
      const r = this.tpdu(buf.subarray(p + 4, p + len));
      if (r !== null) out.push(tpkt(r));
      p += len;
    }
    return { out, rest: buf.subarray(p) };
  }

  private tpdu(c: Buffer): Buffer | null {
    const type = c[1]! & 0xf0;
    if (type === 0xe0 && c.length >= 7) {
      // Connection confirm: our reference, theirs echoed, class 0, their parameters (TPDU size, TSAPs) back.
      this.connected = true;
      const params = c.subarray(7);
      const h = Buffer.from([6 + params.length, 0xd0, c[4]!, c[5]!, 0x00, 0x01, 0x00]);
      return Buffer.concat([h, params]);
    }
    if (type !== 0xf0 || !this.connected || c.length < 3) return null;
    const s7 = c.subarray(3);
    if (s7.length < 10 || s7[0] !== 0x32) return null;
    const rosctr = s7[1]!;
    const pduRef = s7.readUInt16BE(4);
    const plen = s7.readUInt16BE(6);
    const dlen = s7.readUInt16BE(8);
    const param = s7.subarray(10, 10 + plen);
    const data = s7.subarray(10 + plen, 10 + plen + dlen);
    if (rosctr === 1 && param[0] === 0xf0 && param.length >= 8) {
      // Setup communication: accept their PDU size up to 480, as an S7-300 does.
      const pdu = Math.min(param.readUInt16BE(6), 480);
      const ack = Buffer.from([0xf0, 0x00, 0x00, 0x01, 0x00, 0x01, pdu >> 8, pdu & 0xff]);
      return dt(ackData(pduRef, ack, Buffer.alloc(0)));
    }
    if (rosctr === 1) {
      // Any other job: "object does not exist" (error class 0x81, code 0x04), no data.
      return dt(
        ackData(pduRef, Buffer.from([param[0] ?? 0, param[1] ?? 0]), Buffer.alloc(0), 0x8104),
      );
    }
    if (rosctr === 7 && param.length >= 8 && (param[5]! & 0x0f) === 4 && param[6] === 1) {
      const seq = param[7]!;
      const szlId = data.length >= 8 ? data.readUInt16BE(4) : 0;
      const index = data.length >= 8 ? data.readUInt16BE(6) : 0;
      const records = this.szl(szlId, index);
      const rp = Buffer.from([0x00, 0x01, 0x12, 0x08, 0x12, 0x84, 0x01, seq, 0, 0, 0, 0]);
      if (records === null) {
        // SZL not available: return code 0x0a (object does not exist), error 0xd401.
        rp.writeUInt16BE(0xd401, 10);
        return dt(userData(pduRef, rp, Buffer.from([0x0a, 0x00, 0x00, 0x00])));
      }
      const body = Buffer.alloc(8);
      body.writeUInt16BE(szlId, 0);
      body.writeUInt16BE(index, 2);
      body.writeUInt16BE(records.recLen, 4);
      body.writeUInt16BE(records.items.length, 6);
      const payload = Buffer.concat([body, ...records.items]);
      const dh = Buffer.from([0xff, 0x09, payload.length >> 8, payload.length & 0xff]);
      return dt(userData(pduRef, rp, Buffer.concat([dh, payload])));
    }
    return null;
  }

  private szl(id: number, index: number): { recLen: number; items: Buffer[] } | null {
    const s = this.id.s7;
    switch (id) {
      case 0x0011:
      case 0x0111: {
        // Module identification: order number of the module, of the hardware, and the firmware version.
        const rec = (idx: number, text: string, tail: [number, number, number]): Buffer => {
          const b = Buffer.alloc(28);
          b.writeUInt16BE(idx, 0);
          b.write(text.padEnd(20, ' ').slice(0, 20), 2, 'latin1');
          b.writeUInt16BE(idx === 7 ? 0 : 1, 22);
          b[25] = tail[0];
          b[26] = tail[1];
          b[27] = tail[2];
          return b;
        };
        const v = s.version;
        const items = [
          rec(1, s.orderNumber, [0, 0, 0]),
          rec(6, s.hardwareOrder, [0, 0, 3]),
          rec(7, '', v),
        ];
        items[2]![24] = 0x56; // 'V'
        return {
          recLen: 28,
          items: id === 0x0111 ? items.filter((_, i) => i + 1 === index) : items,
        };
      }
      case 0x001c:
      case 0x011c: {
        // Component identification: names are NUL-padded, as the CPU keeps them.
        const rec = (idx: number, text: string): Buffer => {
          const b = Buffer.alloc(34);
          b.writeUInt16BE(idx, 0);
          b.write(text.slice(0, 32), 2, 'latin1');
          return b;
        };
        const all = [
          rec(1, s.systemName),
          rec(2, s.moduleName),
          rec(3, s.plantId),
          rec(4, s.copyright),
          rec(5, s.serial),
          rec(7, s.moduleType),
          rec(8, ''),
          rec(9, ''),
          rec(11, ''),
        ];
        all[7]!.writeUInt16BE(0x002a, 2); // manufacturer id of Siemens
        return {
          recLen: 34,
          items: id === 0x011c ? all.filter((r) => r.readUInt16BE(0) === index) : all,
        };
      }
      case 0x0424: {
        // Mode transition: RUN.
        const b = Buffer.alloc(20);
        b[0] = 0x51;
        b[1] = 0x44;
        b[2] = 0xff;
        b[3] = 0x08;
        return { recLen: 20, items: [b] };
      }
      default:
        return null;
    }
  }
}

function tpkt(cotp: Buffer): Buffer {
  const h = Buffer.from([3, 0, 0, 0]);
  h.writeUInt16BE(cotp.length + 4, 2);
  return Buffer.concat([h, cotp]);
}

/** COTP data TPDU, last unit. */
function dt(s7: Buffer): Buffer {
  return Buffer.concat([Buffer.from([0x02, 0xf0, 0x80]), s7]);
}

function ackData(ref: number, param: Buffer, data: Buffer, error = 0): Buffer {
  const h = Buffer.alloc(12);
  h[0] = 0x32;
  h[1] = 3;
  h.writeUInt16BE(ref, 4);
  h.writeUInt16BE(param.length, 6);
  h.writeUInt16BE(data.length, 8);
  h.writeUInt16BE(error, 10);
  return Buffer.concat([h, param, data]);
}

function userData(ref: number, param: Buffer, data: Buffer): Buffer {
  const h = Buffer.alloc(10);
  h[0] = 0x32;
  h[1] = 7;
  h.writeUInt16BE(ref, 4);
  h.writeUInt16BE(param.length, 6);
  h.writeUInt16BE(data.length, 8);
  return Buffer.concat([h, param, data]);
}
