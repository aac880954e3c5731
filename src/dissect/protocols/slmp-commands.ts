import type { EngineeringOp, FunctionCategory, RequestedMode } from '../protocol.js';
import type { Message } from '../message.js';

/** SLMP / MC protocol commands (Mitsubishi SH-080956ENG, SH-080008), little-endian on the wire. */
export const SLMP_COMMANDS: Readonly<Record<number, string>> = {
  0x0101: 'READ_CPU_MODEL',
  0x0401: 'DEVICE_READ',
  0x0403: 'DEVICE_READ_RANDOM',
  0x0406: 'DEVICE_READ_BLOCK',
  0x0613: 'BUFFER_MEMORY_READ',
  0x0619: 'SELF_TEST',
  0x0801: 'MONITOR_REGISTER',
  0x0802: 'MONITOR',
  0x1001: 'REMOTE_RUN',
  0x1002: 'REMOTE_STOP',
  0x1003: 'REMOTE_PAUSE',
  0x1005: 'REMOTE_LATCH_CLEAR',
  0x1006: 'REMOTE_RESET',
  0x1401: 'DEVICE_WRITE',
  0x1402: 'DEVICE_WRITE_RANDOM',
  0x1406: 'DEVICE_WRITE_BLOCK',
  0x1613: 'BUFFER_MEMORY_WRITE',
  0x1617: 'CLEAR_ERROR',
  0x1630: 'REMOTE_PASSWORD_UNLOCK',
  0x1631: 'REMOTE_PASSWORD_LOCK',
  0x1810: 'FILE_READ_DIRECTORY',
  0x1811: 'FILE_SEARCH_DIRECTORY',
  0x1820: 'FILE_NEW',
  0x1822: 'FILE_DELETE',
  0x1824: 'FILE_COPY',
  0x1825: 'FILE_CHANGE_STATE',
  0x1826: 'FILE_CHANGE_DATE',
  0x1827: 'FILE_OPEN',
  0x1828: 'FILE_READ',
  0x1829: 'FILE_WRITE',
  0x182a: 'FILE_CLOSE',
};

const CATEGORY: Readonly<Record<number, FunctionCategory>> = {
  0x0101: 'identity',
  0x0401: 'read',
  0x0403: 'read',
  0x0406: 'read',
  0x0613: 'read',
  0x0619: 'diagnostic',
  0x0801: 'read',
  0x0802: 'read',
  0x1001: 'control',
  0x1002: 'control',
  0x1003: 'control',
  0x1005: 'control',
  0x1006: 'control',
  0x1401: 'write',
  0x1402: 'write',
  0x1406: 'write',
  0x1613: 'write',
  0x1617: 'control',
  0x1630: 'session',
  0x1631: 'session',
  0x1810: 'read',
  0x1811: 'read',
  0x1820: 'program',
  0x1822: 'program',
  0x1824: 'program',
  0x1825: 'program',
  0x1826: 'program',
  0x1827: 'read',
  0x1828: 'program',
  0x1829: 'program',
  0x182a: 'read',
};

export function slmpCategory(m: Message): FunctionCategory {
  return CATEGORY[m.func] ?? 'unknown';
}

export const SLMP_WRITES: ReadonlySet<number> = new Set(
  Object.entries(CATEGORY)
    .filter(([, c]) => c === 'write' || c === 'control' || c === 'program')
    .map(([f]) => Number(f)),
);

export const SLMP_RUN = 0x1001,
  SLMP_STOP = 0x1002,
  SLMP_PAUSE = 0x1003;

export const SLMP_OPERATIONS: Readonly<Record<number, EngineeringOp>> = {
  [SLMP_RUN]: { kind: 'cpu_start', what: 'put the CPU in RUN (remote run)' },
  [SLMP_STOP]: { kind: 'cpu_stop', what: 'stopped the CPU (remote stop)' },
  [SLMP_PAUSE]: { kind: 'cpu_stop', what: 'paused the CPU (remote pause)' },
  0x1005: { kind: 'config_change', what: 'cleared the latched devices (remote latch clear)' },
  0x1006: { kind: 'device_restart', what: 'reset the CPU (remote reset)' },
  0x1617: { kind: 'config_change', what: 'cleared the CPU error' },
  0x1630: { kind: 'config_change', what: 'unlocked the remote password' },
  0x1631: { kind: 'config_change', what: 'locked the remote password' },
  0x1820: { kind: 'file_transfer', what: 'created a file on the CPU' },
  0x1822: { kind: 'file_transfer', what: 'deleted a file on the CPU' },
  0x1824: { kind: 'file_transfer', what: 'copied a file on the CPU' },
  0x1828: { kind: 'file_transfer', what: 'read a file from the CPU' },
  0x1829: { kind: 'file_transfer', what: 'wrote a file to the CPU' },
  0x1810: { kind: 'file_management', what: 'listed files' },
  0x1827: { kind: 'file_management', what: 'opened a file' },
  0x182a: { kind: 'file_management', what: 'closed a file' },
};

/** Remote RUN, STOP and PAUSE (a paused CPU holds its outputs, as stopped). */
export function slmpRequestedMode(m: Message): RequestedMode | null {
  return m.func === SLMP_RUN
    ? 'RUN'
    : m.func === SLMP_STOP || m.func === SLMP_PAUSE
      ? 'STOP'
      : null;
}
