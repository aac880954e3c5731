import type { Message } from '../dissect/message.js';

/** The operating modes a stop or start request leaves a controller in. */
export type RequestedMode = 'STOP' | 'RUN';

/**
 * The mode a request puts its controller in, when it is a CPU stop or start: S7 PLC_STOP (0x29) and the PI
 * service P_PROGRAM (warm/cold start), Schneider UMAS STOP_PLC/START_PLC (Modbus 90, 0x41/0x40), CIP Stop/Start
 * (0x07/0x06), DNP3 STOP_APPL/START_APPL (18/17). Null for every other message.
 */
export function requestedMode(m: Message): RequestedMode | null {
  if (m.role !== 'request') return null;
  switch (m.protocol) {
    case 's7comm':
      if (m.fields?.rosctr !== 'JOB') return null;
      return m.func === 0x29
        ? 'STOP'
        : m.func === 0x28 && m.fields.pi_service === 'P_PROGRAM'
          ? 'RUN'
          : null;
    case 'modbus':
      return m.func !== 90 ? null : m.subfunc === 0x41 ? 'STOP' : m.subfunc === 0x40 ? 'RUN' : null;
    case 'cip':
      return m.func === 0x07 ? 'STOP' : m.func === 0x06 ? 'RUN' : null;
    case 'dnp3':
      return m.func === 18 ? 'STOP' : m.func === 17 ? 'RUN' : null;
    default:
      return null;
  }
}

/**
 * True when a response refuses what was asked (an exception or error status). A UMAS 0xFD answer is not seen
 * here: the Modbus dissector does not decode UMAS response codes yet.
 */
export function refused(m: Message): boolean {
  return m.role === 'response' && m.exception !== -1;
}
