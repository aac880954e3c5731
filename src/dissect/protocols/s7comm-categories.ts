import type { Message } from '../message.js';
import type { FunctionCategory } from '../protocol.js';
import { COTP_CR, COTP_DC, COTP_DR, COTP_DT, parseCotp } from './tpkt-cotp.js';

const JOBS: Record<number, FunctionCategory> = {
  0xf0: 'session',
  0x04: 'read',
  0x05: 'write',
  0x29: 'control',
  0x28: 'control',
  // Download puts a block into the CPU; upload copies one out (the project itself): both are program transfer.
  0x1a: 'program',
  0x1b: 'program',
  0x1c: 'program',
  0x1d: 'program',
  0x1e: 'program',
  0x1f: 'program',
};

/** Userdata: group, then subfunction where the group mixes reads and changes. */
function userdata(group: number, sub: number): FunctionCategory {
  switch (group) {
    case 1:
      return 'control'; // programmer commands: variable tables with force, erase, diagnostics setup
    case 2:
      return sub === 1 || sub === 4 ? 'read' : 'unknown'; // cyclic reads and their unsubscribe
    case 3:
      return sub >= 1 && sub <= 3 ? 'identity' : 'unknown'; // list blocks, block info
    case 4:
      // SZL, message service, diagnostic message, alarm query read; ALARM_8 lock/unlock and acknowledge act on
      // the CPU's alarms; the rest are indications the CPU sends, never a client.
      return sub === 1
        ? 'identity'
        : sub === 2 || sub === 3 || sub === 0x13
          ? 'diagnostic'
          : sub === 7 || sub === 8 || sub === 0x0b
            ? 'control'
            : 'unknown';
    case 5:
      return 'config'; // PLC password: changes what the session may do
    case 6:
      return 'write';
    case 7:
      return sub === 1 || sub === 3 ? 'read' : sub === 2 || sub === 4 ? 'config' : 'unknown';
    default:
      return 'unknown';
  }
}

const PLUS: Record<number, FunctionCategory> = {
  0x04bb: 'read',
  0x0524: 'read',
  0x054c: 'read',
  0x0586: 'read',
  // S7comm-plus sessions are created and deleted as objects.
  0x04ca: 'session',
  0x04d4: 'session',
  0x04f2: 'write',
  0x0542: 'write',
  0x0598: 'write',
  0x056b: 'control',
  0x0556: 'program',
  0x0560: 'program',
};

export function s7Category(m: Message): FunctionCategory {
  if (m.protocol === 's7comm_plus') return PLUS[m.func] ?? 'unknown';
  if (m.fields?.rosctr === 'USERDATA') return userdata(m.func, m.subfunc);
  return JOBS[m.func] ?? 'unknown';
}

/** COTP connection set-up and release carry no S7 operation; an empty data TPDU carries none either. */
export function cotpLinkControl(b: Uint8Array, off: number, len: number): boolean {
  const c = parseCotp(b, off, len);
  if (c === null) return false;
  return (
    c.pduType === COTP_CR ||
    c.pduType === COTP_DR ||
    c.pduType === COTP_DC ||
    (c.pduType === COTP_DT && c.dataLength === 0)
  );
}
