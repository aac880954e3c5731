/**
 * Station addresses a group may reach behind one IP address: a Modbus TCP/RTU gateway's serial slaves are told
 * apart by unit id, a DNP3 port server's outstations by link destination, an IEC 104 server's stations by the
 * ASDU common address. Register and point numbers mean different things on each, so a group's address and
 * function limits are only what they say when the station is part of them.
 */
export const UNIT_RANGE: Readonly<Record<string, number>> = {
  modbus: 255,
  dnp3: 65535,
  iec104: 65535,
};

/** Why a `units:` list cannot stand for this protocol, or which entry is out of range; null when it can. */
export function unitsProblem(
  protocol: string | undefined,
  units: readonly number[],
): { at?: number; why: string } | null {
  const top = protocol !== undefined ? UNIT_RANGE[protocol] : undefined;
  if (top === undefined)
    return {
      why: `units are Modbus unit ids, DNP3 link addresses or IEC 104 common addresses: set \`protocol:\` to modbus, dnp3 or iec104, or remove it`,
    };
  const bad = units.findIndex((u) => !Number.isInteger(u) || u < 0 || u > top);
  return bad >= 0
    ? { at: bad, why: `${units[bad]} is not a ${protocol} station address (0-${top})` }
    : null;
}
