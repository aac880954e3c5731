import type { DecoyIdentity } from './identity-model.js';
import { registerValue } from './derive.js';

/**
 * Modbus/TCP as the cloned device answers it: report server id (FC 17), read device identification
 * (FC 43/14, basic, regular and single-object reads), registers whose values drift the way the real ones do
 * (FC 3/4), coils and inputs (FC 1/2), writes echoed as a device does; everything else an illegal function.
 */
export class ModbusDecoy {
  private readonly written = new Map<number, number>();

  constructor(
    private readonly id: DecoyIdentity,
    private readonly clock: () => number = () => Date.now() / 1000,
  ) {}

  /** Answers for every complete ADU in `buf`; returns them and the bytes of an incomplete ADU left over. */
  feed(buf: Buffer): { out: Buffer[]; rest: Buffer } {
    const out: Buffer[] = [];
    let p = 0;
    while (buf.length - p >= 8) {
      const len = buf.readUInt16BE(p + 4);
      if (buf.readUInt16BE(p + 2) !== 0 || len < 2 || len > 254)
        return { out, rest: Buffer.alloc(0) };
      if (buf.length - p < 6 + len) break;
      const r = this.answer(buf.subarray(p + 6, p + 6 + len));
      if (r !== null) {
        const h = Buffer.alloc(7);
        buf.copy(h, 0, p, p + 2);
        h.writeUInt16BE(r.length + 1, 4);
        h[6] = buf[p + 6]!;
        out.push(Buffer.concat([h, r]));
      }
      p += 6 + len;
    }
    return { out, rest: buf.subarray(p) };
  }

  /** PDU answer (function code onwards) to one request `pdu` = unit id, function, data. */
  private answer(pdu: Buffer): Buffer | null {
    const fc = pdu[1]!;
    const d = pdu.subarray(2);
    const err = (code: number): Buffer => Buffer.from([fc | 0x80, code]);
    switch (fc) {
      case 1:
      case 2: {
        if (d.length < 4) return err(3);
        const start = d.readUInt16BE(0),
          qty = d.readUInt16BE(2);
        if (qty < 1 || qty > 2000) return err(3);
        if (start + qty > 2000) return err(2);
        const bytes = Buffer.alloc(Math.ceil(qty / 8));
        for (let i = 0; i < qty; i++)
          if (((start + i) * 7 + (fc === 1 ? 1 : 0)) % 3 === 0) bytes[i >> 3]! |= 1 << (i & 7);
        return Buffer.concat([Buffer.from([fc, bytes.length]), bytes]);
      }
      case 3:
      case 4: {
        if (d.length < 4) return err(3);
        const start = d.readUInt16BE(0),
          qty = d.readUInt16BE(2);
        if (qty < 1 || qty > 125) return err(3);
        if (start + qty > 1024) return err(2);
        const t = this.clock();
        const bands = fc === 3 ? this.id.registers.holding : this.id.registers.input;
        const out = Buffer.alloc(2 + qty * 2);
        out[0] = fc;
        out[1] = qty * 2;
        for (let i = 0; i < qty; i++) {
          const a = start + i;
          const w = fc === 3 ? this.written.get(a) : undefined;
          // Sensor noise that changes each second but reads the same twice within it, as a scan cycle does.
          const noise = ((Math.floor(t) * 31 + a * 17) % 3) - 1;
          out.writeUInt16BE(w ?? registerValue(bands[a], t, noise), 2 + i * 2);
        }
        return out;
      }
      case 5:
      case 6:
        if (d.length < 4) return err(3);
        if (fc === 6) this.written.set(d.readUInt16BE(0), d.readUInt16BE(2));
        return Buffer.concat([Buffer.from([fc]), d.subarray(0, 4)]);
      case 15:
      case 16: {
        if (d.length < 5) return err(3);
        if (fc === 16)
          for (let i = 0; i < d.readUInt16BE(2) && 5 + i * 2 + 1 < d.length; i++)
            this.written.set(d.readUInt16BE(0) + i, d.readUInt16BE(5 + i * 2));
        return Buffer.concat([Buffer.from([fc]), d.subarray(0, 4)]);
      }
      case 17: {
        const text = Buffer.from(this.id.modbus.serverId, 'latin1');
        return Buffer.concat([Buffer.from([fc, text.length + 1]), text, Buffer.from([0xff])]);
      }
      case 43:
        if (d[0] !== 14 || d.length < 3) return err(1);
        return this.deviceId(d[1]!, d[2]!);
      default:
        return err(1);
    }
  }

  /** FC 43/14: objects from `first` within the read's level; one object per call for an individual read (4). */
  private deviceId(code: number, first: number): Buffer {
    const objs = this.id.modbus.objects;
    const last = code === 1 ? 2 : code === 2 || code === 3 ? objs.length - 1 : first;
    if (code < 1 || code > 4) return Buffer.from([0xab, 3]);
    if (first > last || objs[first] === undefined) return Buffer.from([0xab, 2]);
    const items: Buffer[] = [];
    for (let i = code === 1 && first > 2 ? 0 : first; i <= last; i++) {
      const v = Buffer.from(objs[i] ?? '', 'latin1');
      items.push(Buffer.from([i, v.length]), v);
    }
    return Buffer.concat([Buffer.from([43, 14, code, 0x83, 0, 0, items.length / 2]), ...items]);
  }
}
