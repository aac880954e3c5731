import type { Message } from '../message.js';
import type { FunctionCategory } from '../protocol.js';

/** Encapsulation commands: session handling and discovery; the CIP they carry is judged on its own. */
const COMMANDS: Record<number, FunctionCategory> = {
  0x00: 'session',
  0x65: 'session',
  0x66: 'session',
  0x6f: 'session',
  0x70: 'session',
  0x04: 'identity',
  0x63: 'identity',
  0x64: 'identity',
};

/**
 * CIP services (Volume 1 Appendix A, Logix tag services). 0x4E, 0x54 and 0x5B are the Connection Manager's
 * (Forward_Close, Forward_Open, Large_Forward_Open); on any other object the dissector adds 0x100 to the code:
 * 0x14E is Read Modify Write Tag, 0x154 and 0x15B are unknown.
 */
const SERVICES: Record<number, FunctionCategory> = {
  0x01: 'read',
  0x03: 'read',
  0x0e: 'read',
  0x11: 'read',
  0x18: 'read',
  0x4c: 'read',
  0x55: 'read',
  0x0a: 'session',
  0x17: 'session',
  0x4e: 'session',
  0x54: 'session',
  0x5b: 'session',
  0x02: 'write',
  0x04: 'write',
  0x10: 'write',
  0x19: 'write',
  0x1a: 'write',
  0x1b: 'write',
  0x4d: 'write',
  0x4f: 'write',
  0x53: 'write',
  0x14e: 'write',
  0x05: 'control',
  0x06: 'control',
  0x07: 'control',
  0x1c: 'control',
  0x08: 'config',
  0x09: 'config',
  0x0d: 'config',
  0x15: 'config',
  0x16: 'config',
};

export function enipCategory(m: Message): FunctionCategory {
  if (m.protocol === 'enip') return COMMANDS[m.func] ?? 'unknown';
  // 0x52 is Unconnected Send on the Connection Manager (a wrapper, its request is judged on its own) and
  // Read Tag Fragmented on a tag.
  if (m.func === 0x52)
    return m.fields?.class_id === 0x06
      ? 'session'
      : m.fields?.tag !== undefined
        ? 'read'
        : 'unknown';
  return SERVICES[m.func] ?? 'unknown';
}
