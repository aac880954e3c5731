import type { BlockReason } from '../../policy/evaluate.js';

/** Modbus exception codes (Modbus Application Protocol v1.1b3, section 7). */
const ILLEGAL_FUNCTION = 0x01;
const ILLEGAL_DATA_ADDRESS = 0x02;

/**
 * The exception response a Modbus server gives for a refused request: same transaction, protocol and unit id,
 * function code with the high bit set, and the exception code that fits the refusal. Null if the request is
 * too short to answer.
 */
export function modbusException(request: Uint8Array, reason: BlockReason): Uint8Array | null {
  if (request.length < 8) return null;
  const out = new Uint8Array(9);
  out.set(request.subarray(0, 4), 0); // transaction id, protocol id
  out[4] = 0;
  out[5] = 3; // length: unit + function + code
  out[6] = request[6]!; // unit id
  out[7] = (request[7]! | 0x80) & 0xff;
  out[8] = reason === 'address_not_allowed' ? ILLEGAL_DATA_ADDRESS : ILLEGAL_FUNCTION;
  return out;
}
