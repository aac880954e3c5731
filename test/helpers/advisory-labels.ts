/**
 * The labelled set for advisory matching: real identities Weir discovers in the shared captures and the
 * project's fixtures, plus a few firmware variants of them (marked `derived`), each with the advisories of
 * the CISA CSAF corpus (2017–Oct 2024) that apply to it, judged by reading every advisory whose
 * product tree names the order number, catalog number, model or family (see bench/RESULTS.md).
 */
import type { AssetIdentity } from '../../src/assess/advisories/match.js';

export interface Labelled {
  name: string;
  /** Where the identity comes from: capture (relative to ../shared/pcaps or fixtures/) and asset id. */
  capture?: string;
  assetId?: string;
  /** A firmware variant of a real identity, to test version ranges on the same products. */
  derived?: boolean;
  identity: AssetIdentity;
  /** Advisories that apply (firmware in the stated range, or all versions affected). */
  affected: string[];
  /** Advisories that name the product or its family but do not apply, and why (kept for the record). */
  notAffected: Record<string, string>;
  /** True when the identity is too thin to judge (no firmware): only "possible" matches are acceptable. */
  unjudgeable?: boolean;
}

const S7_315_ALL_VERSIONS = ['ICSA-20-105-08', 'ICSA-20-252-02', 'ICSA-20-315-04'];
const S7_315_BELOW_3_2_19 = ['ICSA-22-104-06', 'ICSA-22-314-02', 'ICSA-23-222-09'];
const S7_315_BELOW_3_2_16_17 = [
  'ICSA-18-079-02', // < V3.2.16
  'ICSA-19-099-06', // < V3.2.16
  'ICSA-19-283-01', // < V3.2.17
  'ICSA-19-283-02', // < V3.2.17
  'ICSA-20-042-05', // < V3.X.17
  'ICSA-17-129-02', // S7-300 CPU family < V3.X.14
  'ICSA-17-339-01', // S7-300 CPU family < V3.X.16
  'ICSA-19-043-04', // S7-300 CPU family < V3.X.16
  'ICSA-20-070-02', // S7-300 CPU family < V3.X.17
];
const S7_315_ALL = [...S7_315_ALL_VERSIONS, ...S7_315_BELOW_3_2_19, ...S7_315_BELOW_3_2_16_17];

const XC206_ALL_VERSIONS = ['ICSA-24-074-08', 'ICSA-24-193-05'];
const XC206_NOT_AT_4_2_1: Record<string, string> = {
  'ICSA-19-085-01': 'XC206-2 (ST/BFOC) < V4.1',
  'ICSA-19-227-03': 'SCALANCE XC-200 V4.1 only',
  'ICSA-20-042-04': 'SCALANCE XC-200 < V3.0',
  'ICSA-21-068-03': 'SCALANCE XC-200 < V4.1',
  'ICSA-17-271-01B': 'XB-200/XC-200/XP-200 V3.0 to V3.0.2',
};

const S7_315_NOTES: Record<string, string> = {
  'ICSA-22-104-06 (CPU 317-2 PN/DP)': 'other CPUs in the same advisories are other products',
};

export const LABELLED: readonly Labelled[] = [
  {
    name: 'Siemens S7-300 CPU 315-2 PN/DP V3.2.7 (S7 SZL)',
    capture: 'icsnpp/s7comm_snap7.pcap',
    assetId: '134.217.61.211',
    identity: {
      vendor: 'Siemens',
      model: '6ES7 315-2EH14-0AB0',
      product: 'PLC_1',
      hardware: '6ES7 315-2EH14-0AB0',
      firmware: 'V3.2.7',
    },
    affected: S7_315_ALL,
    notAffected: S7_315_NOTES,
  },
  {
    name: 'Siemens CPU 315-2 PN/DP V3.2.6 (S7 SZL, lab fixture)',
    capture: 'fixtures/plant.pcap',
    assetId: '10.77.0.22',
    identity: {
      vendor: 'Siemens',
      model: 'CPU 315-2 PN/DP',
      product: 'CPU 315-2 PN/DP',
      hardware: '6ES7 315-2EH14-0AB0',
      firmware: 'V3.2.6',
    },
    affected: S7_315_ALL,
    notAffected: S7_315_NOTES,
  },
  {
    name: 'Siemens S7-300 CPU 315-2 PN/DP V3.2.17 (derived)',
    derived: true,
    identity: { vendor: 'Siemens', model: '6ES7 315-2EH14-0AB0', firmware: 'V3.2.17' },
    affected: [...S7_315_ALL_VERSIONS, ...S7_315_BELOW_3_2_19],
    notAffected: Object.fromEntries(
      S7_315_BELOW_3_2_16_17.map((a) => [a, 'fixed in V3.2.16/V3.2.17']),
    ),
  },
  {
    name: 'Siemens S7-300 CPU 315-2 PN/DP V3.2.19 (derived)',
    derived: true,
    identity: { vendor: 'Siemens', model: '6ES7 315-2EH14-0AB0', firmware: 'V3.2.19' },
    affected: S7_315_ALL_VERSIONS,
    notAffected: Object.fromEntries(
      [...S7_315_BELOW_3_2_19, ...S7_315_BELOW_3_2_16_17].map((a) => [a, 'fixed before V3.2.19']),
    ),
  },
  {
    name: 'Rockwell 1756-ENBT/A 4.3 (CIP ListIdentity)',
    capture: 'icsnpp/enip_cip_example.pcap',
    assetId: '10.1.1.164',
    identity: {
      vendor: 'Rockwell Automation/Allen-Bradley',
      product: '1756-ENBT/A',
      firmware: '4.3',
    },
    affected: ['ICSA-18-310-02'],
    notAffected: {
      'ICSA-23-193-01': '1756-EN2T/EN2TR/EN3TR modules, not the ENBT',
      'ICSA-23-026-06': '1756-EN2T/EN2TR/EN2F modules, not the ENBT',
    },
  },
  {
    name: 'Rockwell 1756-ENBT/A 4.7 (CIP ListIdentity)',
    capture: 'iti/openics__EIP-IPAddressChangeAttempt.pcap',
    assetId: '192.168.10.120',
    identity: {
      vendor: 'Rockwell Automation/Allen-Bradley',
      product: '1756-ENBT/A',
      firmware: '4.7',
    },
    affected: ['ICSA-18-310-02'],
    notAffected: {},
  },
  {
    name: 'Siemens SCALANCE XC206-2 04.02.01 (LLDP)',
    capture: 'fixtures/identity.pcap',
    assetId: '10.50.0.2',
    identity: {
      vendor: 'Siemens',
      product: 'SIMATIC NET, SCALANCE XC206-2, 6GK5 206-2BB00-2AC2',
      firmware: '04.02.01',
    },
    affected: [
      ...XC206_ALL_VERSIONS,
      'ICSA-22-167-14', // < V4.4
      'ICSA-22-223-07', // < V4.4
      'ICSA-22-286-11', // < V4.4
      'ICSA-22-349-04', // < V4.4
      'ICSA-23-320-08', // < V4.5
      'ICSA-21-194-03', // SCALANCE XC-200 < V4.3
      'ICSA-22-104-05', // SCALANCE XC-200 < V4.3
    ],
    notAffected: XC206_NOT_AT_4_2_1,
  },
  {
    name: 'Siemens SCALANCE XC206-2 V4.5 (derived)',
    derived: true,
    identity: {
      vendor: 'Siemens',
      product: 'SIMATIC NET, SCALANCE XC206-2, 6GK5 206-2BB00-2AC2',
      firmware: 'V4.5',
    },
    affected: XC206_ALL_VERSIONS,
    notAffected: { ...XC206_NOT_AT_4_2_1, 'ICSA-23-320-08': 'fixed in V4.5' },
  },
  {
    name: 'Cisco IE-3000-8TC 15.2(4)EA9 (CDP)',
    capture: 'fixtures/identity.pcap',
    assetId: '10.50.0.3',
    identity: { vendor: 'Cisco', model: 'cisco IE-3000-8TC', firmware: '15.2(4)EA9' },
    affected: [],
    notAffected: {},
  },
  {
    name: 'Cisco WS-CE500-24TT 12.2(25)SEG4 (CDP)',
    capture: 'iti/openics__EIP-FirmwareChange.pcap',
    assetId: '192.168.10.253',
    identity: { vendor: 'Cisco', model: 'cisco WS-CE500-24TT', firmware: '12.2(25)SEG4' },
    affected: [],
    notAffected: {},
  },
  {
    name: 'Siemens S7-1500 station, no firmware (Profinet DCP)',
    capture: 'fixtures/identity.pcap',
    assetId: '10.50.0.21',
    identity: { product: 'S7-1500' },
    affected: [],
    notAffected: {},
    unjudgeable: true,
  },
  {
    name: 'S7-300EC station, no vendor or firmware (Profinet DCP)',
    capture: 'iti/profinet__profinet-wireshark-bug.pcap',
    assetId: '192.168.0.11',
    identity: { product: 'S7-300EC' },
    affected: [],
    notAffected: {},
    unjudgeable: true,
  },
  {
    name: 'Weir Lab Automation WL-M340 3.20 (Modbus device identification, lab fixture)',
    capture: 'fixtures/plant.pcap',
    assetId: '10.77.0.21',
    identity: { vendor: 'Weir Lab Automation', product: 'WL-M340', firmware: '3.20' },
    affected: [],
    notAffected: {},
  },
  {
    name: 'Siemens Schweiz BACnet device 661 (BACnet I-Am vendor id)',
    capture: 'icsnpp/bacnet_example.pcap',
    assetId: '172.20.32.116',
    identity: { vendor: 'Siemens Schweiz', model: 'device 661' },
    affected: [],
    notAffected: {},
    unjudgeable: true,
  },
];

export interface Scored {
  name: string;
  truePositives: string[];
  falsePositives: string[];
  missed: string[];
  /** "possible" matches (not counted as findings). */
  possible: string[];
}

export interface Score {
  items: Scored[];
  tp: number;
  fp: number;
  fn: number;
  precision: number;
  recall: number;
}

/** Precision and recall of the exact and family matches (what Weir reports as findings) on the set. */
export function scoreLabelled(
  match: (i: AssetIdentity) => Array<{ advisoryId: string; confidence: string }>,
  labels: readonly Labelled[] = LABELLED,
): Score {
  const items: Scored[] = [];
  let tp = 0,
    fp = 0,
    fn = 0;
  for (const l of labels) {
    const ms = match(l.identity);
    const found = new Set(ms.filter((m) => m.confidence !== 'possible').map((m) => m.advisoryId));
    const truth = new Set(l.affected);
    const s: Scored = {
      name: l.name,
      truePositives: [...found].filter((a) => truth.has(a)).sort(),
      falsePositives: [...found].filter((a) => !truth.has(a)).sort(),
      missed: [...truth].filter((a) => !found.has(a)).sort(),
      possible: ms.filter((m) => m.confidence === 'possible').map((m) => m.advisoryId),
    };
    tp += s.truePositives.length;
    fp += s.falsePositives.length;
    fn += s.missed.length;
    items.push(s);
  }
  return {
    items,
    tp,
    fp,
    fn,
    precision: tp + fp === 0 ? 1 : tp / (tp + fp),
    recall: tp + fn === 0 ? 1 : tp / (tp + fn),
  };
}
