import type { Message } from '../message.js';
import type { FunctionCategory } from '../protocol.js';

/** Modbus function codes by what they do to the server (Modbus Application Protocol v1.1b3). */
const BY_CODE: Record<number, FunctionCategory> = {
  1: 'read',
  2: 'read',
  3: 'read',
  4: 'read',
  20: 'read',
  24: 'read',
  7: 'diagnostic',
  11: 'diagnostic',
  12: 'diagnostic',
  17: 'identity',
  5: 'write',
  6: 'write',
  15: 'write',
  16: 'write',
  21: 'write',
  22: 'write',
  23: 'write',
};

/** FC 8 sub-functions: counters and echo only read; restart, listen-only and clears change the device. */
const DIAGNOSTICS: Record<number, FunctionCategory> = {
  0: 'diagnostic',
  2: 'diagnostic',
  11: 'diagnostic',
  12: 'diagnostic',
  13: 'diagnostic',
  14: 'diagnostic',
  15: 'diagnostic',
  16: 'diagnostic',
  17: 'diagnostic',
  18: 'diagnostic',
  1: 'control',
  4: 'control',
  10: 'control',
  20: 'control',
  3: 'config',
};

/**
 * Schneider UMAS (FC 90) function bytes, from public protocol write-ups: reads of identity, memory and
 * variables; writes of memory, variables and I/O objects; program transfer; run/stop and reservations.
 */
const UMAS: Record<number, FunctionCategory> = {
  0x01: 'session',
  0x0a: 'session',
  0x12: 'session',
  0x02: 'identity',
  0x03: 'identity',
  0x04: 'identity',
  0x06: 'identity',
  0x20: 'read',
  0x22: 'read',
  0x24: 'read',
  0x39: 'read',
  0x58: 'diagnostic',
  0x70: 'read',
  0x73: 'diagnostic',
  0x21: 'write',
  0x23: 'write',
  0x25: 'write',
  0x71: 'write',
  0x10: 'control',
  0x11: 'control',
  0x40: 'control',
  0x41: 'control',
  0x30: 'program',
  0x31: 'program',
  0x32: 'program',
  0x33: 'program',
  0x34: 'program',
  0x35: 'program',
};

export function modbusCategory(m: Message): FunctionCategory {
  // A UMAS function's policy key (modbus-umas.ts umasKey), e.g. when a read-only group lists umas_stop_plc.
  if (m.func >> 8 === 90) return UMAS[m.func & 0xff] ?? 'unknown';
  switch (m.func) {
    case 8:
      return m.subfunc < 0 ? 'unknown' : (DIAGNOSTICS[m.subfunc] ?? 'unknown');
    // MEI 14 reads device identification; MEI 13 (CANopen general reference) can write objects.
    case 43:
      return m.subfunc === 14 ? 'identity' : 'unknown';
    case 90:
      return m.subfunc < 0 ? 'unknown' : (UMAS[m.subfunc] ?? 'unknown');
    default:
      return BY_CODE[m.func] ?? 'unknown';
  }
}
