import type { FunctionCategory, EngineeringOp } from '../protocol.js';
import type { Message } from '../message.js';

/**
 * HART-IP messages that are not HART commands get function codes above the 16-bit command space, so one code
 * space names both: session initiate, close and keep-alive are 0x10000 + their message id.
 */
export const SESSION_BASE = 0x10000;

/** Universal and common-practice HART commands (HCF_SPEC-127, -151), by number. */
const COMMANDS: Readonly<Record<number, string>> = {
  0: 'READ_UNIQUE_IDENTIFIER',
  1: 'READ_PRIMARY_VARIABLE',
  2: 'READ_LOOP_CURRENT_AND_PERCENT_OF_RANGE',
  3: 'READ_DYNAMIC_VARIABLES_AND_LOOP_CURRENT',
  6: 'WRITE_POLLING_ADDRESS',
  7: 'READ_LOOP_CONFIGURATION',
  8: 'READ_DYNAMIC_VARIABLE_CLASSIFICATIONS',
  9: 'READ_DEVICE_VARIABLES_WITH_STATUS',
  11: 'READ_UNIQUE_IDENTIFIER_ASSOCIATED_WITH_TAG',
  12: 'READ_MESSAGE',
  13: 'READ_TAG_DESCRIPTOR_DATE',
  14: 'READ_PRIMARY_VARIABLE_TRANSDUCER_INFORMATION',
  15: 'READ_DEVICE_INFORMATION',
  16: 'READ_FINAL_ASSEMBLY_NUMBER',
  17: 'WRITE_MESSAGE',
  18: 'WRITE_TAG_DESCRIPTOR_DATE',
  19: 'WRITE_FINAL_ASSEMBLY_NUMBER',
  20: 'READ_LONG_TAG',
  21: 'READ_UNIQUE_IDENTIFIER_ASSOCIATED_WITH_LONG_TAG',
  22: 'WRITE_LONG_TAG',
  33: 'READ_DEVICE_VARIABLES',
  34: 'WRITE_PRIMARY_VARIABLE_DAMPING_VALUE',
  35: 'WRITE_PRIMARY_VARIABLE_RANGE_VALUES',
  36: 'SET_PRIMARY_VARIABLE_UPPER_RANGE_VALUE',
  37: 'SET_PRIMARY_VARIABLE_LOWER_RANGE_VALUE',
  38: 'RESET_CONFIGURATION_CHANGED_FLAG',
  39: 'EEPROM_CONTROL',
  40: 'ENTER_EXIT_FIXED_CURRENT_MODE',
  41: 'PERFORM_SELF_TEST',
  42: 'PERFORM_DEVICE_RESET',
  43: 'SET_PRIMARY_VARIABLE_ZERO',
  44: 'WRITE_PRIMARY_VARIABLE_UNITS',
  45: 'TRIM_LOOP_CURRENT_ZERO',
  46: 'TRIM_LOOP_CURRENT_GAIN',
  47: 'WRITE_PRIMARY_VARIABLE_TRANSFER_FUNCTION',
  48: 'READ_ADDITIONAL_DEVICE_STATUS',
  49: 'WRITE_PRIMARY_VARIABLE_TRANSDUCER_SERIAL_NUMBER',
  50: 'READ_DYNAMIC_VARIABLE_ASSIGNMENTS',
  51: 'WRITE_DYNAMIC_VARIABLE_ASSIGNMENTS',
  53: 'WRITE_DEVICE_VARIABLE_UNITS',
  54: 'READ_DEVICE_VARIABLE_INFORMATION',
  59: 'WRITE_NUMBER_OF_RESPONSE_PREAMBLES',
  72: 'SQUAWK',
  74: 'READ_IO_SYSTEM_CAPABILITIES',
  77: 'SEND_COMMAND_TO_SUB_DEVICE',
  78: 'READ_AGGREGATED_COMMANDS',
  79: 'WRITE_DEVICE_VARIABLE',
  84: 'READ_SUB_DEVICE_IDENTITY_SUMMARY',
  89: 'SET_REAL_TIME_CLOCK',
  90: 'READ_REAL_TIME_CLOCK',
  103: 'WRITE_BURST_PERIOD',
  105: 'READ_BURST_MODE_CONFIGURATION',
  108: 'WRITE_BURST_MODE_COMMAND_NUMBER',
  109: 'BURST_MODE_CONTROL',
  512: 'READ_COUNTRY_CODE',
  513: 'WRITE_COUNTRY_CODE',
  [SESSION_BASE]: 'SESSION_INITIATE',
  [SESSION_BASE + 1]: 'SESSION_CLOSE',
  [SESSION_BASE + 2]: 'KEEP_ALIVE',
};
export const HART_COMMANDS = COMMANDS;

const READS = [1, 2, 3, 7, 8, 9, 12, 13, 14, 15, 16, 20, 33, 48, 50, 54, 74, 78, 90, 105];
const IDENTITY = [0, 11, 21, 84];
const CONFIG = [
  6, 17, 18, 19, 22, 34, 35, 36, 37, 38, 39, 43, 44, 45, 46, 47, 49, 51, 53, 59, 89, 103, 108, 109,
  513,
];
const CATEGORY = new Map<number, FunctionCategory>([
  ...READS.map((c): [number, FunctionCategory] => [c, 'read']),
  ...IDENTITY.map((c): [number, FunctionCategory] => [c, 'identity']),
  ...CONFIG.map((c): [number, FunctionCategory] => [c, 'config']),
  [40, 'control'], // forces the loop current: the control system no longer sees the measurement
  [42, 'control'],
  [79, 'write'], // simulates a device variable
  [41, 'diagnostic'],
  [72, 'diagnostic'],
  [77, 'unknown'], // carries another command to a sub-device: judged by what it carries, unread here
  [SESSION_BASE, 'session'],
  [SESSION_BASE + 1, 'session'],
  [SESSION_BASE + 2, 'session'],
]);

/** Commands that change the field device (configuration, ranges, trims, fixed current, reset). */
export const HART_WRITES: ReadonlySet<number> = new Set([...CONFIG, 40, 42, 79]);

/** Device-specific commands (128–253) and anything unlisted cannot be judged. */
export function hartipCategory(m: Message): FunctionCategory {
  return CATEGORY.get(m.func) ?? 'unknown';
}

/**
 * Commands that re-commission a transmitter rather than operate it: what a handheld or asset-management tool does,
 * and what an attacker does to blind a loop (a range or zero change shifts every reading the DCS sees).
 */
export const HART_OPERATIONS: Readonly<Record<number, EngineeringOp>> = {
  6: { kind: 'config_change', what: 'changed the polling address of a field device' },
  18: { kind: 'config_change', what: 'rewrote the tag of a field device' },
  22: { kind: 'config_change', what: 'rewrote the long tag of a field device' },
  34: { kind: 'config_change', what: 'changed the damping of a field device' },
  35: { kind: 'config_change', what: 'changed the range of a field device' },
  36: { kind: 'config_change', what: 'set the upper range value of a field device' },
  37: { kind: 'config_change', what: 'set the lower range value of a field device' },
  40: { kind: 'diagnostic_command', what: 'forced the loop current of a field device' },
  42: { kind: 'device_restart', what: 'reset a field device' },
  43: { kind: 'config_change', what: 'zeroed the primary variable of a field device' },
  44: { kind: 'config_change', what: 'changed the units of a field device' },
  45: { kind: 'config_change', what: 'trimmed the loop current zero of a field device' },
  46: { kind: 'config_change', what: 'trimmed the loop current gain of a field device' },
  47: { kind: 'config_change', what: 'changed the transfer function of a field device' },
  79: { kind: 'diagnostic_command', what: 'simulated a device variable of a field device' },
};
