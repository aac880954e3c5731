import { u16le, u32le } from '../bytes.js';

/** Connection Manager services that open a connection (CIP Vol 1, 3-5.5.2 and 3-5.5.3). */
export const SERVICE_FORWARD_OPEN = 0x54;
export const SERVICE_LARGE_FORWARD_OPEN = 0x5b;
/** The service that closes one on purpose (3-5.5.4). */
export const SERVICE_FORWARD_CLOSE = 0x4e;

type Fields = Record<string, string | number | boolean>;

/**
 * Forward_Open request data (after the path): ticks, O→T and T→O network connection ids, connection serial,
 * originator vendor and serial, timeout multiplier, 3 reserved bytes, then O→T RPI and parameters, T→O RPI and
 * parameters (2-byte parameters; 4-byte in Large_Forward_Open), then the transport type/trigger byte.
 * RPIs are in microseconds, as tshark's cip.cm.ot_rpi / cip.cm.to_rpi.
 */
export function forwardOpenRequest(
  f: Fields,
  b: Uint8Array,
  d: number,
  end: number,
  large: boolean,
): void {
  const params = large ? 4 : 2;
  const toRpiAt = d + 26 + params;
  const transportAt = toRpiAt + 4 + params;
  if (transportAt + 1 > end) return;
  f.ot_connection_id = u32le(b, d + 2);
  f.to_connection_id = u32le(b, d + 6);
  f.connection_serial = u16le(b, d + 10);
  f.originator_vendor = u16le(b, d + 12);
  f.originator_serial = u32le(b, d + 14);
  f.ot_rpi_us = u32le(b, d + 22);
  f.to_rpi_us = u32le(b, toRpiAt);
  // Transport class in the low nibble: 0/1 are implicit (cyclic I/O over UDP 2222), 3 explicit messaging.
  f.transport_class = b[transportAt]! & 0x0f;
}

/**
 * Successful Forward_Open reply data: O→T and T→O connection ids (the ids the I/O datagrams carry), connection
 * serial, originator vendor and serial, then the actual packet intervals O→T and T→O in microseconds.
 */
export function forwardOpenReply(f: Fields, b: Uint8Array, d: number, end: number): void {
  if (d + 24 > end) return;
  f.ot_connection_id = u32le(b, d);
  f.to_connection_id = u32le(b, d + 4);
  f.connection_serial = u16le(b, d + 8);
  f.originator_vendor = u16le(b, d + 10);
  f.originator_serial = u32le(b, d + 12);
  f.ot_api_us = u32le(b, d + 16);
  f.to_api_us = u32le(b, d + 20);
}
