import type { Message } from '../message.js';
import type { FunctionCategory } from '../protocol.js';
import { C_CI_NA_1 } from './iec104-tables.js';

/**
 * IEC 60870-5-104 from the controlling station: U and S frames run the link; interrogation and read ask for
 * data; commands, set-points, clock sync, reset, parameters and files act on the station. Monitor-direction
 * types (1–44) are never sent by a controlling station.
 */
export function iec104Category(m: Message): FunctionCategory {
  if (m.func < 0)
    return m.funcName === 'S' || /^(STARTDT|STOPDT|TESTFR)_/.test(m.funcName)
      ? 'session'
      : 'unknown';
  const t = m.func;
  // A counter interrogation reads only with FRZ 0 (m.subfunc); a freeze or reset acts on the totals. A key of
  // a function list (C_CI_NA_1 << 8 | FRZ) is judged the same way.
  if (t === C_CI_NA_1) return m.subfunc > 0 ? 'control' : 'read';
  if (t >> 8 === C_CI_NA_1) return (t & 3) === 0 ? 'read' : 'control';
  if (t === 100 || t === 102) return 'read';
  if (t === 104 || t === 106 || t === 107) return 'diagnostic';
  if ((t >= 45 && t <= 51) || (t >= 58 && t <= 64) || t === 105) return 'control';
  if (t === 103 || (t >= 110 && t <= 113)) return 'config';
  if (t >= 120 && t <= 127) return 'program';
  return 'unknown';
}
