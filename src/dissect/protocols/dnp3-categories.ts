import type { Message } from '../message.js';
import type { FunctionCategory } from '../protocol.js';

/** DNP3 application function codes (IEEE 1815) by what a master's request does to the outstation. */
const CODES: Record<number, FunctionCategory> = {
  0: 'session',
  32: 'session',
  33: 'session',
  1: 'read',
  23: 'diagnostic',
  28: 'read',
  2: 'write',
  3: 'control',
  4: 'control',
  5: 'control',
  6: 'control',
  7: 'control',
  8: 'control',
  9: 'control',
  10: 'control',
  11: 'control',
  12: 'control',
  13: 'control',
  14: 'control',
  15: 'control',
  16: 'control',
  17: 'control',
  18: 'control',
  19: 'config',
  20: 'config',
  21: 'config',
  22: 'config',
  24: 'config',
  31: 'config',
  25: 'program',
  26: 'program',
  27: 'program',
  29: 'program',
  30: 'program',
};

export function dnp3Category(m: Message): FunctionCategory {
  return m.func < 0 ? 'unknown' : (CODES[m.func] ?? 'unknown');
}

/** A DNP3 link frame whose length covers only the link header (reset link, link status): no application data. */
export function dnp3LinkControl(b: Uint8Array, off: number, len: number): boolean {
  return len === 10 && b[off] === 0x05 && b[off + 1] === 0x64 && b[off + 2] === 5;
}
