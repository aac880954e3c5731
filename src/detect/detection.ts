export type Severity = 'info' | 'low' | 'medium' | 'high' | 'critical';

export const SEVERITY_RANK: Record<Severity, number> = {
  info: 0,
  low: 1,
  medium: 2,
  high: 3,
  critical: 4,
};

/** Every kind of detection Weir reports; policies (playbook triggers, mutes) name these. */
export const DETECTION_TYPES = [
  'new_asset',
  'new_edge',
  'new_protocol',
  'function_outside_profile',
  'write_new_range',
  'program_download',
  'program_upload',
  'cpu_stop',
  'cpu_start',
  'device_restart',
  'firmware_change',
  'config_change',
  'network_config_change',
  'time_change',
  'controller_lock',
  'unsolicited_control',
  'operate_without_select',
  'password_submission',
  'function_sweep',
  'protocol_mismatch',
  'file_transfer',
  'device_probe',
  'diagnostic_command',
  'port_scan',
  'host_scan',
  'value_out_of_range',
  'polling_stopped',
  'flood',
  'malformed_pdu',
  'arp_spoofing',
  'ip_conflict',
  'decoy_contact',
  'decoy_conflict',
  'goose_sequence',
  'goose_test_mode',
  'io_interval_drift',
  'io_rate_high',
  'io_connection_stopped',
] as const;
export type DetectionType = (typeof DETECTION_TYPES)[number];

/** What a detector reports for one observation; the aggregator folds repeats into one Detection. */
export interface Finding {
  type: DetectionType;
  severity: Severity;
  ts: number;
  frame: number;
  src: string;
  dst: string;
  protocol: string;
  /** Distinguishes findings of one type on one pair that must not be folded together (e.g. the function). */
  detail: string;
  /** Evidence fields: the function, addresses, values, baseline expectation. */
  fields: Record<string, unknown>;
  explanation: string;
  response: string;
  /**
   * The address this finding is about, when findings on many addresses of one pair and function fold into one
   * detection (detail then names the function): one control session touching 14 points is one detection whose
   * evidence lists the points, not 14 alerts. Written 'space:address' or 'space:start..end', e.g. 'g12v1:3'.
   * Several when one message touches several ranges.
   */
  point?: string | readonly string[];
  /** The value seen at that (single) point (value findings), so evidence keeps each point's extremes. */
  pointValue?: number;
  /** The explanation once several points folded: `list` is the first few points, `total` how many. */
  explainMany?: (list: string, total: number) => string;
}

/** Where a message-driven finding was seen: spread into finding()'s init (the copy keeps one layout). */
export function seenIn(m: {
  ts: number;
  frame: number;
  srcIp: string;
  dstIp: string;
  protocol: string;
}): Pick<Finding, 'ts' | 'frame' | 'src' | 'dst' | 'protocol'> {
  return { ts: m.ts, frame: m.frame, src: m.srcIp, dst: m.dstIp, protocol: m.protocol };
}

/**
 * Every finding is built here, from its fields by name: the copy has all fields in one order (the optional ones
 * undefined when absent), so the engine's report() and the aggregator read one object layout. A literal per
 * detector gave each its own layout, and their reads of ~15 fields went megamorphic. The init is short-lived (one
 * per report, ~22,000 on the 1,000,000-frame cost pass) and its own layout is read only here.
 */
export function finding(f: Finding): Finding {
  return {
    type: f.type,
    severity: f.severity,
    ts: f.ts,
    frame: f.frame,
    src: f.src,
    dst: f.dst,
    protocol: f.protocol,
    detail: f.detail,
    fields: f.fields,
    explanation: f.explanation,
    response: f.response,
    point: f.point,
    pointValue: f.pointValue,
    explainMany: f.explainMany,
  };
}

/** A detection as an analyst sees it: explained, evidenced, and counted rather than repeated. */
export interface Detection {
  id: string;
  type: DetectionType;
  severity: Severity;
  /** First and last occurrence (epoch seconds) and how many times it happened in the window. */
  ts: number;
  lastTs: number;
  count: number;
  src: string;
  dst: string;
  protocol: string;
  /** What separates this detection from others of its type on the pair (function, address, …); used by mutes. */
  detail: string;
  zone: string | null;
  evidence: { frames: number[]; fields: Record<string, unknown> };
  explanation: string;
  suggestedResponse: string;
  /** ATT&CK for ICS technique ids (e.g. T0881), from the one mapping table (attack-map.ts). */
  techniques: string[];
}
