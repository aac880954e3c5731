import type { Message } from '../message.js';
import type { EngineeringOp, FunctionCategory, RequestedMode } from '../protocol.js';
import { PDU_BASE, SVC_START, SVC_STOP, UNCONFIRMED_BASE } from './mms-names.js';

/** What each confirmed service does to the server (ISO 9506-2 service classes; IEC 61850-8-1 uses a subset). */
const SERVICES: Readonly<Record<number, FunctionCategory>> = {
  0: 'diagnostic', // status
  1: 'read', // getNameList: the server's logical devices and nodes
  2: 'identity', // identify: vendor, model, revision
  3: 'config', // rename
  4: 'read',
  5: 'write',
  6: 'read', // getVariableAccessAttributes
  7: 'config',
  8: 'config',
  9: 'read',
  10: 'config',
  11: 'config', // defineNamedVariableList: a new data set
  12: 'read',
  13: 'config',
  14: 'config',
  15: 'read',
  16: 'config',
  17: 'read', // input
  18: 'write', // output
  19: 'control', // takeControl (semaphore)
  20: 'control',
  21: 'config',
  22: 'config',
  23: 'read',
  24: 'read',
  25: 'read',
  // Domain (program and configuration) transfer and deletion.
  26: 'program',
  27: 'program',
  28: 'program',
  29: 'program',
  30: 'program',
  31: 'program',
  32: 'program',
  33: 'program',
  34: 'program',
  35: 'program',
  36: 'program',
  37: 'read',
  // Program invocations: create, delete, start, stop, resume, reset, kill.
  38: 'control',
  39: 'control',
  40: 'control',
  41: 'control',
  42: 'control',
  43: 'control',
  44: 'control',
  45: 'read',
  46: 'program', // obtainFile: the server fetches a file (firmware, configuration)
  47: 'config',
  48: 'config',
  49: 'read',
  50: 'read',
  51: 'config',
  52: 'control',
  53: 'config',
  54: 'config',
  55: 'read',
  56: 'read',
  57: 'config',
  58: 'config',
  59: 'config',
  60: 'read',
  61: 'read',
  62: 'write',
  63: 'read',
  64: 'read',
  65: 'read',
  66: 'write',
  67: 'write',
  68: 'read',
  69: 'config',
  70: 'config',
  71: 'diagnostic',
  // File services: IEC 61850 file transfer (SCL, COMTRADE, firmware) — program work, as the issue has it.
  72: 'program',
  73: 'program',
  74: 'program',
  75: 'program',
  76: 'program',
  77: 'read', // fileDirectory lists, changes nothing
};

export function mmsCategory(m: Message): FunctionCategory {
  const f = m.func;
  if (f < 0) return 'unknown';
  if (f >= PDU_BASE) return 'session'; // initiate, conclude, cancel, reject
  if (f >= UNCONFIRMED_BASE) return 'read'; // reports travel from the server
  return SERVICES[f] ?? 'unknown';
}

/** Confirmed services that transfer programs or files, or start/stop what the server runs. */
export const MMS_OPERATIONS: Readonly<Record<number, EngineeringOp>> = {
  26: { kind: 'program_download', what: 'started an MMS domain download' },
  27: { kind: 'program_download', what: 'downloaded an MMS domain segment' },
  28: { kind: 'program_download', what: 'ended an MMS domain download' },
  29: { kind: 'program_upload', what: 'started an MMS domain upload' },
  30: { kind: 'program_upload', what: 'uploaded an MMS domain segment' },
  31: { kind: 'program_upload', what: 'ended an MMS domain upload' },
  32: { kind: 'program_download', what: 'asked for an MMS domain download' },
  33: { kind: 'program_upload', what: 'asked for an MMS domain upload' },
  34: { kind: 'program_download', what: 'loaded MMS domain content' },
  35: { kind: 'program_upload', what: 'stored MMS domain content' },
  36: { kind: 'config_change', what: 'deleted an MMS domain' },
  40: { kind: 'cpu_start', what: 'started an MMS program invocation' },
  41: { kind: 'cpu_stop', what: 'stopped an MMS program invocation' },
  43: { kind: 'device_restart', what: 'reset an MMS program invocation' },
  44: { kind: 'cpu_stop', what: 'killed an MMS program invocation' },
  46: { kind: 'file_transfer', what: 'made the server obtain a file over MMS' },
  72: { kind: 'file_transfer', what: 'opened a file over MMS' },
  73: { kind: 'file_management', what: 'read a file segment over MMS' },
  74: { kind: 'file_management', what: 'closed a file over MMS' },
  75: { kind: 'config_change', what: 'renamed a file over MMS' },
  76: { kind: 'config_change', what: 'deleted a file over MMS' },
  77: { kind: 'file_management', what: 'listed files over MMS' },
};

/** Only confirmed requests carry an operation (a response to fileOpen is not one). */
export function mmsCarriesOperation(m: Message): boolean {
  return m.role === 'request' && m.func < UNCONFIRMED_BASE;
}

/** Program invocation start and stop (ISO 9506 start/stop services). */
export function mmsRequestedMode(m: Message): RequestedMode | null {
  return m.func === SVC_START ? 'RUN' : m.func === SVC_STOP ? 'STOP' : null;
}
