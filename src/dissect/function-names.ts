import { MODBUS_FUNCTIONS } from './protocols/modbus.js';
import { CIP_SERVICES } from './protocols/cip.js';
import { JOB_FUNCTIONS } from './protocols/s7comm-names.js';
import { DNP3_FUNCTIONS } from './protocols/dnp3-tables.js';
import { TYPE_NAMES } from './protocols/iec104-tables.js';
import { CONFIRMED, UNCONFIRMED } from './protocols/bacnet-tables.js';
import { UNCONFIRMED_BASE } from './protocols/bacnet.js';

/**
 * Function codes by name per industrial protocol, for people writing policy: `read_holding_registers` reads
 * better than 3. Names are the dissectors' own, compared lowercased with '-' and spaces as '_'.
 */
const BY_PROTOCOL = new Map<string, Map<number, string>>();

function add(protocol: string, table: Record<number, string> | string[], base = 0): void {
  let m = BY_PROTOCOL.get(protocol);
  if (m === undefined) {
    m = new Map();
    BY_PROTOCOL.set(protocol, m);
  }
  for (const [code, name] of Object.entries(table)) m.set(base + Number(code), name);
}
add('modbus', MODBUS_FUNCTIONS);
add('s7comm', JOB_FUNCTIONS);
add('dnp3', DNP3_FUNCTIONS);
add('cip', CIP_SERVICES);
add('iec104', TYPE_NAMES);
add('bacnet', CONFIRMED);
add('bacnet', UNCONFIRMED, UNCONFIRMED_BASE);

const BY_NAME = new Map<string, Map<string, number>>();
for (const [protocol, codes] of BY_PROTOCOL)
  BY_NAME.set(protocol, new Map([...codes].map(([c, n]) => [normalizeFunctionName(n), c])));

export function normalizeFunctionName(name: string): string {
  return name
    .trim()
    .toLowerCase()
    .replace(/[-\s]+/g, '_');
}

/** Protocols whose function codes have names. */
export function namedProtocols(): string[] {
  return [...BY_PROTOCOL.keys()];
}

/** The code of a named function, or undefined when the protocol has no function of that name. */
export function functionCode(protocol: string, name: string): number | undefined {
  return BY_NAME.get(protocol)?.get(normalizeFunctionName(name));
}

/** The name of a function code (lowercase, policy style), or undefined when it has none. */
export function functionLabel(protocol: string, code: number): string | undefined {
  const n = BY_PROTOCOL.get(protocol)?.get(code);
  return n === undefined ? undefined : normalizeFunctionName(n);
}
