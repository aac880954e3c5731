import type { Message } from '../message.js';
import type { FunctionCategory } from '../protocol.js';

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
  if (t === 100 || t === 101 || t === 102) return 'read';
  if (t === 104 || t === 106 || t === 107) return 'diagnostic';
  if ((t >= 45 && t <= 51) || (t >= 58 && t <= 64) || t === 105) return 'control';
  if (t === 103 || (t >= 110 && t <= 113)) return 'config';
  if (t >= 120 && t <= 127) return 'program';
  return 'unknown';
}
