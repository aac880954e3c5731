/**
 * Decoys of a zone: responders on addresses nothing in the plant uses, cloned from the zone's real devices, so
 * that anyone exploring the zone touches one. They live in the policy, so they change only through change control.
 */

/** Services a decoy can answer on (protocol names of the dissect registry, plus the HMI's web page). */
export const DECOY_SERVICES = ['modbus', 's7comm', 'enip', 'bacnet', 'http'] as const;
export type DecoyService = (typeof DECOY_SERVICES)[number];

export interface DecoyRotation {
  /** Move decoys every this many seconds (aligned to the epoch, so every node agrees when). */
  every?: number;
  /** Or at the start of each occurrence of these policy windows (e.g. the change window). */
  windows?: string[];
}

export interface DecoySet {
  name: string;
  zone: string;
  /** Real devices (addresses, resolved from asset names) whose class the decoys clone; empty: any identified device of the zone. */
  clone: string[];
  services: DecoyService[];
  /** Addresses the decoys may take; every one is a tripwire, whether a decoy sits on it now or not. */
  pool: string[];
  /** How many decoys answer at once (≤ pool size). */
  active: number;
  /** Moving-target defence: when the decoys change address, ports and identity; absent: never. */
  rotate?: DecoyRotation;
}

/** Every pool address of every decoy set: what the decoy_contact detector watches. */
export function decoyAddresses(sets: readonly DecoySet[] | undefined): Set<string> {
  return new Set((sets ?? []).flatMap((s) => s.pool));
}
