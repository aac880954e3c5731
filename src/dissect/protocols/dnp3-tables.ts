/** DNP3 (IEEE 1815) application function codes, names in Zeek ICSNPP dnp3 style. */
export const DNP3_FUNCTIONS: Record<number, string> = {
  0: 'CONFIRM', 1: 'READ', 2: 'WRITE', 3: 'SELECT', 4: 'OPERATE', 5: 'DIRECT_OPERATE', 6: 'DIRECT_OPERATE_NR',
  7: 'IMMED_FREEZE', 8: 'IMMED_FREEZE_NR', 9: 'FREEZE_CLEAR', 10: 'FREEZE_CLEAR_NR', 11: 'FREEZE_AT_TIME',
  12: 'FREEZE_AT_TIME_NR', 13: 'COLD_RESTART', 14: 'WARM_RESTART', 15: 'INITIALIZE_DATA', 16: 'INITIALIZE_APPL',
  17: 'START_APPL', 18: 'STOP_APPL', 19: 'SAVE_CONFIG', 20: 'ENABLE_UNSOLICITED', 21: 'DISABLE_UNSOLICITED',
  22: 'ASSIGN_CLASS', 23: 'DELAY_MEASURE', 24: 'RECORD_CURRENT_TIME', 25: 'OPEN_FILE', 26: 'CLOSE_FILE',
  27: 'DELETE_FILE', 28: 'GET_FILE_INFO', 29: 'AUTHENTICATE_FILE', 30: 'ABORT_FILE', 31: 'ACTIVATE_CONFIG',
  32: 'AUTHENTICATE_REQ', 33: 'AUTH_REQ_NO_ACK', 129: 'RESPONSE', 130: 'UNSOLICITED_RESPONSE', 131: 'AUTHENTICATE_RESP',
};

/** Requests that change outstation state. */
export const DNP3_WRITES = new Set([2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 24, 25, 27, 29, 30, 31]);

/**
 * Size in bytes of one object of group/variation (key g*256+v) where fixed, for walking object headers that
 * carry data. Absent: unknown size, stop walking.
 */
export const OBJECT_SIZE: Record<number, number> = {
  [1 * 256 + 2]: 1, [2 * 256 + 1]: 1, [2 * 256 + 2]: 7, [2 * 256 + 3]: 3, [3 * 256 + 2]: 1, [4 * 256 + 1]: 1, [4 * 256 + 2]: 7,
  [10 * 256 + 2]: 1, [12 * 256 + 1]: 11, [12 * 256 + 2]: 11, [20 * 256 + 1]: 5, [20 * 256 + 2]: 3, [20 * 256 + 5]: 4, [20 * 256 + 6]: 2,
  [21 * 256 + 1]: 5, [21 * 256 + 2]: 3, [22 * 256 + 1]: 5, [22 * 256 + 2]: 3, [22 * 256 + 5]: 11, [22 * 256 + 6]: 9,
  [30 * 256 + 1]: 5, [30 * 256 + 2]: 3, [30 * 256 + 3]: 4, [30 * 256 + 4]: 2, [30 * 256 + 5]: 5, [30 * 256 + 6]: 9,
  [32 * 256 + 1]: 5, [32 * 256 + 2]: 3, [32 * 256 + 3]: 11, [32 * 256 + 4]: 9, [32 * 256 + 5]: 5, [32 * 256 + 7]: 11,
  [40 * 256 + 1]: 5, [40 * 256 + 2]: 3, [40 * 256 + 3]: 5, [41 * 256 + 1]: 5, [41 * 256 + 2]: 3, [41 * 256 + 3]: 5, [41 * 256 + 4]: 9,
  [50 * 256 + 1]: 6, [50 * 256 + 3]: 6, [51 * 256 + 1]: 6, [51 * 256 + 2]: 6, [52 * 256 + 1]: 2, [52 * 256 + 2]: 2,
  [60 * 256 + 1]: 0, [60 * 256 + 2]: 0, [60 * 256 + 3]: 0, [60 * 256 + 4]: 0,
};
