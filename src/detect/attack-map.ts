import type { Detection, DetectionType } from './detection.js';
import { ATTACK_TACTICS, ATTACK_TECHNIQUES } from './attack-ics.js';

/** What a mapping may look at: the detection as the aggregator opens it. */
export type Mappable = Pick<Detection, 'type' | 'protocol' | 'detail' | 'evidence'>;

/** One sub-case of a type: the first case whose test holds decides the techniques. */
interface Case {
  /** What the case is, in words (shown by `weir incidents` docs and the test's messages). */
  when: string;
  test: (d: Mappable) => boolean;
  techniques: readonly string[];
}

export interface TypeMapping {
  /** Techniques when no case applies. */
  techniques: readonly string[];
  cases?: readonly Case[];
}

const field = (d: Mappable, k: string): unknown => d.evidence.fields[k];
const fn = (d: Mappable): string => d.detail; // engineering operations: 'protocol:func'

/** Write targets that command an output (coil, DNP3 CROB g12, IEC 104 commands) rather than set a parameter. */
function commandsOutput(d: Mappable): boolean {
  const space = String(field(d, 'space') ?? '');
  const points = field(d, 'points');
  const first = Array.isArray(points) && points.length > 0 ? String(points[0]) : space;
  return /^(coil|discrete|g12v|g10v|ioa)/.test(first || space);
}

/**
 * Every detection type → ATT&CK for ICS technique ids (ids from the generated table of MITRE's knowledge base,
 * src/detect/attack-ics.ts). One table, so a reviewer sees every choice at once; a test checks that every
 * detection type the detectors report has a row here and that every id exists in the knowledge base.
 */
export const ATTACK_MAP: Readonly<Record<string, TypeMapping>> = {
  // A device never seen before: a laptop or tool brought into the zone.
  new_asset: { techniques: ['T0864'] }, // Transient Cyber Asset
  // A conversation the baseline never had: reaching a service it should not.
  new_edge: { techniques: ['T0886'] }, // Remote Services
  new_protocol: { techniques: ['T0869'] }, // Standard Application Layer Protocol
  function_outside_profile: {
    techniques: ['T0855'], // Unauthorized Command Message
    cases: [
      {
        when: 'a write function',
        test: (d) => field(d, 'write') === true,
        techniques: ['T0855', 'T0836'], // + Modify Parameter
      },
      {
        when: 'a read function',
        test: (d) => /read/i.test(String(field(d, 'func_name') ?? '')),
        techniques: ['T0861'], // Point & Tag Identification
      },
    ],
  },
  write_new_range: {
    techniques: ['T0855', 'T0836'], // Unauthorized Command Message, Modify Parameter
    cases: [
      { when: 'a write that commands an output', test: commandsOutput, techniques: ['T0855'] },
    ],
  },
  program_download: { techniques: ['T0843', 'T0889'] }, // Program Download, Modify Program
  program_upload: { techniques: ['T0845'] }, // Program Upload
  cpu_stop: { techniques: ['T0881', 'T0858'] }, // Service Stop, Change Operating Mode
  cpu_start: {
    techniques: ['T0858'], // Change Operating Mode
    cases: [
      {
        when: 'an S7 PI service (start, compress, insert or delete blocks)',
        test: (d) => fn(d) === 's7comm:40',
        techniques: ['T0858', 'T0821'], // + Modify Controller Tasking
      },
    ],
  },
  device_restart: { techniques: ['T0816'] }, // Device Restart/Shutdown
  firmware_change: { techniques: ['T0857', 'T0800'] }, // System Firmware, Activate Firmware Update Mode
  config_change: {
    techniques: ['T0836'], // Modify Parameter
    cases: [
      {
        when: 'BACnet DeviceCommunicationControl (silences the device)',
        test: (d) => fn(d) === 'bacnet:17',
        techniques: ['T0804', 'T0814'], // Block Reporting Message, Denial of Service
      },
      {
        when: 'Schneider UMAS engineering access',
        test: (d) => fn(d) === 'modbus:90',
        techniques: ['T0836', 'T0821'], // + Modify Controller Tasking
      },
    ],
  },
  file_transfer: {
    techniques: ['T0867'], // Lateral Tool Transfer
    cases: [
      {
        when: 'a DNP3 file delete',
        test: (d) => fn(d) === 'dnp3:27',
        techniques: ['T0809'], // Data Destruction
      },
    ],
  },
  device_probe: { techniques: ['T0888'] }, // Remote System Information Discovery
  diagnostic_command: {
    techniques: ['T0888'], // Remote System Information Discovery (echo, counters)
    cases: [
      {
        when: 'Modbus diagnostics: restart communications',
        test: (d) => field(d, 'subfunc') === 1,
        techniques: ['T0816'], // Device Restart/Shutdown
      },
      {
        when: 'Modbus diagnostics: force listen-only mode',
        test: (d) => field(d, 'subfunc') === 4,
        techniques: ['T0814', 'T0803'], // Denial of Service, Block Command Message
      },
    ],
  },
  port_scan: { techniques: ['T0846'] }, // Remote System Discovery
  host_scan: { techniques: ['T0846'] },
  // Anything reaching a decoy: nobody legitimate knows it exists, so the touch is discovery or lateral reach.
  decoy_contact: { techniques: ['T0846', 'T0888'] }, // Remote System Discovery, Remote System Information Discovery
  // A decoy's address claimed by ARP (`weir decoy run` withdrew it): a MAC taking an address that is not its own,
  // and the ARP it forges to do so is the cache poisoning of Adversary-in-the-Middle.
  decoy_conflict: { techniques: ['T0849', 'T0830'] }, // Masquerading, Adversary-in-the-Middle
  value_out_of_range: {
    techniques: ['T0831'], // Manipulation of Control (a reported value out of its band)
    cases: [
      {
        when: 'a written value',
        test: (d) => field(d, 'write') === true,
        techniques: ['T0836', 'T0831'], // Modify Parameter, Manipulation of Control
      },
    ],
  },
  polling_stopped: { techniques: ['T0804', 'T0829'] }, // Block Reporting Message, Loss of View
  flood: { techniques: ['T0814'] }, // Denial of Service
  malformed_pdu: { techniques: ['T0814'] }, // many ICS stacks fail on malformed PDUs
  arp_spoofing: { techniques: ['T0830'] }, // Adversary-in-the-Middle
  ip_conflict: { techniques: ['T0849'] }, // Masquerading
  // Engineering operations worked out per object and service (CIP, DNP3, S7): the detector names the exact
  // operation's techniques in its evidence (`attack`), which take precedence; these rows are the type's default.
  network_config_change: { techniques: ['T0836', 'T0855'] }, // Modify Parameter, Unauthorized Command
  time_change: { techniques: ['T0836', 'T0855'] },
  controller_lock: { techniques: ['T0855', 'T0813'] }, // + Denial of Control (a locked controller)
  unsolicited_control: { techniques: ['T0855'] }, // disabling adds Denial of View, Block Reporting
  operate_without_select: { techniques: ['T0855', 'T0831'] }, // + Manipulation of Control
  password_submission: { techniques: ['T0859', 'T0812'] }, // Valid Accounts, Default Credentials
  function_sweep: { techniques: ['T0888', 'T0846'] }, // Remote System Information/Remote System Discovery
  protocol_mismatch: { techniques: ['T0869', 'T0885'] }, // Std Application Layer Protocol, Commonly Used Port
  // Forged or replayed GOOSE (stNum/sqNum out of order): a spoofed status or an injected trip. The detector states
  // the exact pair per anomaly in its evidence.
  goose_sequence: {
    techniques: ['T0855', 'T0856'], // Unauthorized Command Message, Spoof Reporting Message
    cases: [
      {
        when: 'a replayed or duplicated publication',
        test: (d) =>
          field(d, 'anomaly') === 'old_st' || field(d, 'anomaly') === 'sq_not_increasing',
        techniques: ['T0856'],
      },
    ],
  },
  // Publications flagged test/simulation are discarded by subscribers in normal mode: trips are blocked.
  goose_test_mode: { techniques: ['T0803', 'T0804'] }, // Block Command Message, Block Reporting Message
  // EtherNet/IP cyclic I/O slower than its learned band or its RPI: a device or network overwhelmed, its
  // consumer on stale I/O near the connection timeout.
  io_interval_drift: { techniques: ['T0814'] }, // Denial of Service
  // Far faster on one connection id: a second producer injecting datagrams. Outputs driven that way change I/O
  // points repeatedly; inputs injected that way are spoofed telemetry.
  io_rate_high: {
    techniques: ['T0806', 'T0855'], // Brute Force I/O, Unauthorized Command Message
    cases: [
      {
        when: 'inputs (target → originator) injected',
        test: (d) => field(d, 'direction') === 'T->O',
        techniques: ['T0856'], // Spoof Reporting Message
      },
    ],
  },
  // The datagrams stopped without a Forward_Close: outputs fall to their fault state, inputs go dark.
  io_connection_stopped: {
    techniques: ['T0814', 'T0827'], // Denial of Service, Loss of Control
    cases: [
      {
        when: 'inputs (target → originator) stopped',
        test: (d) => field(d, 'direction') === 'T->O',
        techniques: ['T0814', 'T0829'], // Denial of Service, Loss of View
      },
    ],
  },
} satisfies Partial<Record<DetectionType, TypeMapping>>;

/** The technique ids of one detection (an unmapped type gets none; the mapping test names it). */
export function techniquesFor(d: Mappable): string[] {
  // A detector that resolved the exact operation (e.g. CIP lock vs unlock) states its techniques; only ids the
  // knowledge base holds are taken, so a typo never reaches a SIEM.
  const stated = d.evidence.fields.attack;
  if (Array.isArray(stated)) {
    const known = stated.filter(
      (t): t is string => typeof t === 'string' && t in ATTACK_TECHNIQUES,
    );
    if (known.length > 0) return known;
  }
  const m = ATTACK_MAP[d.type];
  if (m === undefined) return [];
  for (const c of m.cases ?? []) if (c.test(d)) return [...c.techniques];
  return [...m.techniques];
}

/** A detection stored before techniques were mapped gets them on read. */
export function withTechniques(d: Detection): Detection {
  if (!Array.isArray(d.techniques)) d.techniques = techniquesFor(d);
  return d;
}

/** Every technique id a type can map to (all its cases), for the validity test. */
export function techniqueIdsOf(m: TypeMapping): string[] {
  return [...new Set([...m.techniques, ...(m.cases ?? []).flatMap((c) => c.techniques)])];
}

/** Tactic shortnames of a technique, in matrix order ([] for an unknown id). */
export function tacticsOf(technique: string): readonly string[] {
  return ATTACK_TECHNIQUES[technique]?.tactics ?? [];
}

export function techniqueName(technique: string): string {
  return ATTACK_TECHNIQUES[technique]?.name ?? technique;
}

export function tacticName(shortname: string): string {
  return ATTACK_TACTICS.find((t) => t.shortname === shortname)?.name ?? shortname;
}
