/** S7comm names (public S7 protocol descriptions; Zeek ICSNPP s7comm vocabulary). */
export const ROSCTR: Record<number, string> = { 1: 'JOB', 2: 'ACK', 3: 'ACK_DATA', 7: 'USERDATA' };

export const JOB_FUNCTIONS: Record<number, string> = {
  0x00: 'CPU_SERVICES',
  0x04: 'READ_VAR',
  0x05: 'WRITE_VAR',
  0x1a: 'REQUEST_DOWNLOAD',
  0x1b: 'DOWNLOAD_BLOCK',
  0x1c: 'DOWNLOAD_ENDED',
  0x1d: 'START_UPLOAD',
  0x1e: 'UPLOAD',
  0x1f: 'END_UPLOAD',
  0x28: 'PI_SERVICE',
  0x29: 'PLC_STOP',
  0xf0: 'SETUP_COMMUNICATION',
};

export const USERDATA_GROUPS: Record<number, string> = {
  0: 'MODE_TRANSITION',
  1: 'PROGRAMMER_COMMANDS',
  2: 'CYCLIC_DATA',
  3: 'BLOCK_FUNCTIONS',
  4: 'CPU_FUNCTIONS',
  5: 'SECURITY',
  6: 'PBC_BSEND_BRECV',
  7: 'TIME_FUNCTIONS',
  0xf: 'NC_PROGRAMMING',
};

/** Subfunction names per userdata group. */
export const USERDATA_SUBFUNCTIONS: Record<number, Record<number, string>> = {
  1: {
    1: 'REQUEST_DIAG_DATA_1',
    2: 'VARTAB',
    0x0c: 'ERASE',
    0x0e: 'READ_DIAG_DATA',
    0x0f: 'REMOVE_DIAG_DATA',
    0x10: 'FORCES',
    0x13: 'REQUEST_DIAG_DATA_2',
  },
  2: { 1: 'MEMORY', 4: 'UNSUBSCRIBE' },
  3: { 1: 'LIST_BLOCKS', 2: 'LIST_BLOCKS_OF_TYPE', 3: 'GET_BLOCK_INFO' },
  4: {
    1: 'READ_SZL',
    2: 'MESSAGE_SERVICE',
    3: 'DIAGNOSTIC_MESSAGE',
    5: 'ALARM8_INDICATION',
    6: 'NOTIFY_INDICATION',
    7: 'ALARM8_LOCK',
    8: 'ALARM8_UNLOCK',
    0x0b: 'ALARM_ACK',
    0x0c: 'ALARM_ACK_INDICATION',
    0x0d: 'ALARM_LOCK_INDICATION',
    0x0e: 'ALARM_UNLOCK_INDICATION',
    0x11: 'ALARM_SQ_INDICATION',
    0x12: 'ALARM_S_INDICATION',
    0x13: 'ALARM_QUERY',
    0x16: 'NOTIFY8_INDICATION',
  },
  5: { 1: 'PLC_PASSWORD', 2: 'CLEAN_SESSION' },
  7: { 1: 'READ_CLOCK', 2: 'SET_CLOCK', 3: 'READ_CLOCK_FOLLOWING', 4: 'SET_CLOCK_2' },
};

/** Memory areas of S7ANY item addresses. */
export const AREAS: Record<number, string> = {
  0x03: 'SYSINFO',
  0x05: 'SYSFLAGS',
  0x06: 'ANAIN',
  0x07: 'ANAOUT',
  0x1c: 'C',
  0x1d: 'T',
  0x1e: 'IEC_COUNTER',
  0x1f: 'IEC_TIMER',
  0x80: 'P',
  0x81: 'I',
  0x82: 'Q',
  0x83: 'M',
  0x84: 'DB',
  0x85: 'DI',
  0x86: 'L',
  0x87: 'V',
};

/** Bytes per element for S7ANY transport sizes (bit addresses count as one byte touched). */
export const ELEMENT_BYTES: Record<number, number> = {
  1: 1,
  2: 1,
  3: 1,
  4: 2,
  5: 2,
  6: 4,
  7: 4,
  8: 4,
  9: 1,
  0x0a: 2,
  0x0b: 4,
  0x0c: 4,
  0x0f: 4,
  0x1c: 2,
  0x1d: 2,
};
