import type { IdentityFacts, Message } from '../message.js';

/**
 * Schneider Electric UMAS (Unity/EcoStruxure engineering protocol) inside Modbus function 90. Layout from the
 * public protocol write-ups (no vendor specification exists): a request is [session key][UMAS function][data],
 * a response is [session key][status][data] with status 0xFE (OK) or 0xFD (error, an error code follows).
 * Responses do not repeat the UMAS function.
 */
export const UMAS_FUNCTIONS: Readonly<Record<number, string>> = {
  0x01: 'INIT_COMM',
  0x02: 'READ_ID',
  0x03: 'READ_PROJECT_INFO',
  0x04: 'READ_PLC_INFO',
  0x06: 'READ_CARD_INFO',
  0x0a: 'REPEAT',
  0x10: 'TAKE_PLC_RESERVATION',
  0x11: 'RELEASE_PLC_RESERVATION',
  0x12: 'KEEP_ALIVE',
  0x20: 'READ_MEMORY_BLOCK',
  0x21: 'WRITE_MEMORY_BLOCK',
  0x22: 'READ_VARIABLES',
  0x23: 'WRITE_VARIABLES',
  0x24: 'READ_COILS_REGISTERS',
  0x25: 'WRITE_COILS_REGISTERS',
  0x30: 'INITIALIZE_UPLOAD',
  0x31: 'UPLOAD_BLOCK',
  0x32: 'END_STRATEGY_UPLOAD',
  0x33: 'INITIALIZE_DOWNLOAD',
  0x34: 'DOWNLOAD_BLOCK',
  0x35: 'END_DOWNLOAD',
  0x39: 'READ_ETH_MASTER_DATA',
  0x40: 'START_PLC',
  0x41: 'STOP_PLC',
  0x50: 'MONITOR_PLC',
  0x58: 'CHECK_PLC',
  0x70: 'READ_IO_OBJECT',
  0x71: 'WRITE_IO_OBJECT',
  0x73: 'GET_STATUS_MODULE',
};

/**
 * The policy key of one UMAS function: FC 90 in the high byte, the UMAS function in the low one (above every
 * Modbus function code, so a function list holds both).
 */
export const UMAS_KEY_BASE = 90 << 8;
export const umasKey = (umasFunction: number): number => UMAS_KEY_BASE | (umasFunction & 0xff);

/** Response status bytes. */
export const UMAS_OK = 0xfe;
export const UMAS_ERROR = 0xfd;

/** A request: session key and UMAS function as fields; `m.subfunc` is the UMAS function. */
export function umasRequest(m: Message, b: Uint8Array, p: number, end: number): void {
  if (end - p < 2) return;
  m.subfunc = b[p + 1]!;
  m.fields = {
    umas_session: b[p]!,
    umas_function: UMAS_FUNCTIONS[m.subfunc] ?? `UMAS_0x${m.subfunc.toString(16).padStart(2, '0')}`,
  };
}

/**
 * A response: status OK or error (an error is the response's `exception`, so refusals of a stop or a download
 * are seen as such). An OK response that carries the PLC's name the way READ_ID answers do gives its identity.
 */
export function umasResponse(m: Message, b: Uint8Array, p: number, end: number): void {
  if (end - p < 2) return;
  const status = b[p + 1]!;
  const fields: Record<string, string | number> = {
    umas_session: b[p]!,
    umas_status: status === UMAS_OK ? 'OK' : status === UMAS_ERROR ? 'ERROR' : status,
  };
  m.fields = fields;
  if (status === UMAS_ERROR) {
    const code = end - p > 2 ? b[p + 2]! : 0;
    fields.umas_error = code;
    m.exception = UMAS_ERROR;
    return;
  }
  if (status !== UMAS_OK) return;
  const name = plcName(b, p + 2, end);
  if (name === null) return;
  const id: IdentityFacts = { vendor: 'Schneider Electric', model: name, product: name };
  // READ_ID data: range (u16), identifier (u32), model code (u16), then version words (little-endian).
  if (end - (p + 2) >= 8) {
    fields.umas_plc_ident = u32le(b, p + 4);
    fields.umas_model_code = b[p + 8]! | (b[p + 9]! << 8);
  }
  fields.umas_plc_name = name;
  m.identity = id;
}

function u32le(b: Uint8Array, p: number): number {
  return (b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24)) >>> 0;
}

/** READ_ID data is at least range, identifier, model and version words before the name. */
const READ_ID_FIXED = 12;
const PRINTABLE = /^[\x20-\x7e]+$/;

/**
 * The PLC's name that ends a READ_ID answer ("BMX P34 2020", "TSX P57 4634M", "BME P58 2040"): a length byte
 * then that many printable characters reaching the end of the PDU (zero padding allowed). Only names with a
 * letter and a digit are taken, so a memory block that happens to end in text is not mistaken for one.
 */
function plcName(b: Uint8Array, data: number, end: number): string | null {
  let last = end;
  while (last > data && b[last - 1] === 0) last--;
  for (let len = 4; len <= 64; len++) {
    const at = last - len - 1;
    if (at < data + READ_ID_FIXED) break;
    if (b[at] !== len) continue;
    let text = '';
    for (let i = at + 1; i < last; i++) text += String.fromCharCode(b[i]!);
    if (PRINTABLE.test(text) && /[A-Za-z]/.test(text) && /\d/.test(text)) return text.trim();
  }
  return null;
}

/** What a UMAS request does to the PLC, in ATT&CK terms (the engineering-operations detector's vocabulary). */
export type UmasOperationKind =
  | 'start'
  | 'stop'
  | 'download'
  | 'upload'
  | 'reservation'
  | 'write'
  | 'probe'
  | 'unknown';

export interface UmasOperation {
  kind: UmasOperationKind;
  what: string;
}

/**
 * Schneider names transfers from the PLC's side: "upload" (0x30–0x32) sends a program from the engineering
 * station INTO the PLC — a program download in ATT&CK terms — and "download" (0x33–0x35) reads it out.
 */
const OPS: Readonly<Record<number, UmasOperation | null>> = {
  0x40: { kind: 'start', what: 'started the PLC (UMAS START_PLC)' },
  0x41: { kind: 'stop', what: 'stopped the PLC (UMAS STOP_PLC)' },
  0x30: { kind: 'download', what: 'began sending a program to the PLC (UMAS INITIALIZE_UPLOAD)' },
  0x31: { kind: 'download', what: 'sent a program block to the PLC (UMAS UPLOAD_BLOCK)' },
  0x32: {
    kind: 'download',
    what: 'finished sending a program to the PLC (UMAS END_STRATEGY_UPLOAD)',
  },
  0x33: {
    kind: 'upload',
    what: 'began reading the program out of the PLC (UMAS INITIALIZE_DOWNLOAD)',
  },
  0x34: { kind: 'upload', what: 'read a program block from the PLC (UMAS DOWNLOAD_BLOCK)' },
  0x35: { kind: 'upload', what: 'finished reading the program from the PLC (UMAS END_DOWNLOAD)' },
  0x10: {
    kind: 'reservation',
    what: 'took the PLC reservation, locking out other engineering stations (UMAS TAKE_PLC_RESERVATION)',
  },
  0x21: { kind: 'write', what: 'wrote a PLC memory block (UMAS WRITE_MEMORY_BLOCK)' },
  0x23: { kind: 'write', what: 'wrote PLC variables (UMAS WRITE_VARIABLES)' },
  0x25: { kind: 'write', what: 'wrote coils or registers through UMAS (WRITE_COILS_REGISTERS)' },
  0x71: { kind: 'write', what: 'wrote an I/O object (UMAS WRITE_IO_OBJECT)' },
  0x02: { kind: 'probe', what: 'read the PLC identification (UMAS READ_ID)' },
  0x03: { kind: 'probe', what: 'read the project information (UMAS READ_PROJECT_INFO)' },
  0x04: { kind: 'probe', what: 'read the PLC information (UMAS READ_PLC_INFO)' },
  0x06: { kind: 'probe', what: 'read the memory card information (UMAS READ_CARD_INFO)' },
  // Session upkeep, reads and monitoring: engineering work, but not an operation on its own.
  0x01: null,
  0x0a: null,
  0x11: null,
  0x12: null,
  0x20: null,
  0x22: null,
  0x24: null,
  0x39: null,
  0x50: null,
  0x58: null,
  0x70: null,
  0x73: null,
};

/** The operation a UMAS request performs; undefined for reads and upkeep. Unknown functions are reported. */
export function umasOperation(m: Message): UmasOperation | undefined {
  if (m.role === 'response') return undefined;
  if (m.subfunc < 0)
    return {
      kind: 'unknown',
      what: 'used the Schneider UMAS engineering function (no function byte)',
    };
  const op = OPS[m.subfunc];
  if (op === null) return undefined;
  return (
    op ?? {
      kind: 'unknown',
      what: `used an unknown Schneider UMAS function 0x${m.subfunc.toString(16).padStart(2, '0')}`,
    }
  );
}
