import type { EngineeringOp, FunctionCategory, RequestedMode } from '../protocol.js';
import type { Message } from '../message.js';

/** FINS commands (Omron W342, section 5), as MRC << 8 | SRC. */
export const FINS_COMMANDS: Readonly<Record<number, string>> = {
  0x0101: 'MEMORY_AREA_READ',
  0x0102: 'MEMORY_AREA_WRITE',
  0x0103: 'MEMORY_AREA_FILL',
  0x0104: 'MULTIPLE_MEMORY_AREA_READ',
  0x0105: 'MEMORY_AREA_TRANSFER',
  0x0201: 'PARAMETER_AREA_READ',
  0x0202: 'PARAMETER_AREA_WRITE',
  0x0203: 'PARAMETER_AREA_CLEAR',
  0x0304: 'PROGRAM_AREA_PROTECT',
  0x0305: 'PROGRAM_AREA_PROTECT_CLEAR',
  0x0306: 'PROGRAM_AREA_READ',
  0x0307: 'PROGRAM_AREA_WRITE',
  0x0308: 'PROGRAM_AREA_CLEAR',
  0x0401: 'RUN',
  0x0402: 'STOP',
  0x0501: 'CONTROLLER_DATA_READ',
  0x0502: 'CONNECTION_DATA_READ',
  0x0601: 'CONTROLLER_STATUS_READ',
  0x0620: 'CYCLE_TIME_READ',
  0x0701: 'CLOCK_READ',
  0x0702: 'CLOCK_WRITE',
  0x0920: 'MESSAGE_READ_CLEAR',
  0x0c01: 'ACCESS_RIGHT_ACQUIRE',
  0x0c02: 'ACCESS_RIGHT_FORCED_ACQUIRE',
  0x0c03: 'ACCESS_RIGHT_RELEASE',
  0x2101: 'ERROR_CLEAR',
  0x2102: 'ERROR_LOG_READ',
  0x2103: 'ERROR_LOG_CLEAR',
  0x2140: 'FAL_FALS_READ',
  0x2201: 'FILE_NAME_READ',
  0x2202: 'SINGLE_FILE_READ',
  0x2203: 'SINGLE_FILE_WRITE',
  0x2204: 'FILE_MEMORY_FORMAT',
  0x2205: 'FILE_DELETE',
  0x2207: 'FILE_COPY',
  0x2208: 'FILE_NAME_CHANGE',
  0x220a: 'MEMORY_AREA_FILE_TRANSFER',
  0x220b: 'PARAMETER_AREA_FILE_TRANSFER',
  0x220c: 'PROGRAM_AREA_FILE_TRANSFER',
  0x2215: 'CREATE_DELETE_DIRECTORY',
  0x2301: 'FORCED_SET_RESET',
  0x2302: 'FORCED_SET_RESET_CANCEL',
};

const CATEGORY: Readonly<Record<number, FunctionCategory>> = {
  0x0101: 'read',
  0x0102: 'write',
  0x0103: 'write',
  0x0104: 'read',
  0x0105: 'write',
  0x0201: 'read',
  0x0202: 'config',
  0x0203: 'config',
  0x0304: 'config',
  0x0305: 'config',
  0x0306: 'program',
  0x0307: 'program',
  0x0308: 'program',
  0x0401: 'control',
  0x0402: 'control',
  0x0501: 'identity',
  0x0502: 'identity',
  0x0601: 'diagnostic',
  0x0620: 'diagnostic',
  0x0701: 'read',
  0x0702: 'config',
  0x0920: 'diagnostic',
  0x0c01: 'session',
  0x0c02: 'session',
  0x0c03: 'session',
  0x2101: 'control',
  0x2102: 'diagnostic',
  0x2103: 'config',
  0x2140: 'diagnostic',
  0x2201: 'read',
  0x2202: 'program',
  0x2203: 'program',
  0x2204: 'config',
  0x2205: 'program',
  0x2207: 'program',
  0x2208: 'program',
  0x220a: 'program',
  0x220b: 'program',
  0x220c: 'program',
  0x2215: 'program',
  0x2301: 'control',
  0x2302: 'control',
};

export function finsCategory(m: Message): FunctionCategory {
  // FINS/TCP's own handshake: the client sends its node address before any FINS frame.
  if (m.func < 0 && m.fields?.tcp_command === 0) return 'session';
  return CATEGORY[m.func] ?? 'unknown';
}

/** Requests that change the PLC (the categories other than read, identity, diagnostic and session). */
export const FINS_WRITES: ReadonlySet<number> = new Set(
  Object.entries(CATEGORY)
    .filter(([, c]) => c !== 'read' && c !== 'identity' && c !== 'diagnostic' && c !== 'session')
    .map(([f]) => Number(f)),
);

export const FINS_RUN = 0x0401,
  FINS_STOP = 0x0402;

export const FINS_OPERATIONS: Readonly<Record<number, EngineeringOp>> = {
  0x0306: { kind: 'program_upload', what: 'read the program area' },
  0x0307: { kind: 'program_download', what: 'wrote the program area' },
  0x0308: { kind: 'program_download', what: 'cleared the program area' },
  0x0304: { kind: 'config_change', what: 'protected the program area' },
  0x0305: { kind: 'config_change', what: 'cleared the program area protection' },
  [FINS_RUN]: { kind: 'cpu_start', what: 'put the PLC in RUN' },
  [FINS_STOP]: { kind: 'cpu_stop', what: 'stopped the PLC' },
  0x0202: { kind: 'config_change', what: 'wrote the parameter area' },
  0x0203: { kind: 'config_change', what: 'cleared the parameter area' },
  0x0702: { kind: 'config_change', what: 'set the PLC clock' },
  0x2103: { kind: 'config_change', what: 'cleared the error log' },
  0x2202: { kind: 'file_transfer', what: 'read a file from file memory' },
  0x2203: { kind: 'file_transfer', what: 'wrote a file to file memory' },
  0x2204: { kind: 'config_change', what: 'formatted the file memory' },
  0x2205: { kind: 'file_transfer', what: 'deleted files from file memory' },
  0x220c: { kind: 'program_download', what: 'transferred the program area from or to a file' },
  0x2201: { kind: 'file_management', what: 'listed file memory' },
  0x2301: { kind: 'diagnostic_command', what: 'forced bits set or reset' },
  0x2302: { kind: 'diagnostic_command', what: 'cancelled forced bits' },
};

/** RUN (0401) and STOP (0402). */
export function finsRequestedMode(m: Message): RequestedMode | null {
  return m.func === FINS_RUN ? 'RUN' : m.func === FINS_STOP ? 'STOP' : null;
}
