import type { Message } from '../../dissect/message.js';
import {
  functionKeyNumber,
  operationOf as descriptorOperation,
  operationOfFunction,
} from '../../dissect/registry.js';
import {
  cipOperation,
  isCipRead,
  type CipOperationKind,
} from '../../dissect/protocols/cip-operations.js';
import {
  dnp3MayOperate,
  dnp3Operation,
  type Dnp3OperationKind,
} from '../../dissect/protocols/dnp3-operations.js';
import { s7Operation, type S7OperationKind } from '../../dissect/protocols/s7comm-operations.js';
import { umasOperation, type UmasOperationKind } from '../../dissect/protocols/modbus-umas.js';
import { FC_UMAS } from '../../dissect/protocols/modbus.js';
import { finding, type DetectionType, type Severity } from '../detection.js';
import type { DetectContext, Detector, EdgeRuntime } from '../detector.js';
import type { Op } from '../operation.js';

export type { Op };

/**
 * Operations that change what a controller runs, whether it runs, its firmware, clock, network or reporting:
 * reported every time, from any client. A baseline that saw them lowers their severity, never hides them (a
 * stop during the learning window must not make later stops silent).
 */
export const ENGINEERING = new Set<DetectionType>([
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
  'file_transfer',
  'unsolicited_control',
  'password_submission',
]);

/** True for the detection types that are never hidden (by a baseline, a maintenance window or a mute). */
export function isEngineeringOperation(type: DetectionType): boolean {
  return ENGINEERING.has(type);
}

const T = {
  download: ['T0843', 'T0821', 'T0889'],
  upload: ['T0845'],
  stop: ['T0881', 'T0858'],
  start: ['T0858'],
  restart: ['T0816'],
  firmware: ['T0857', 'T0839', 'T0800'],
  parameter: ['T0836', 'T0855'],
  lock: ['T0855', 'T0813'],
  unlock: ['T0855'],
  file: ['T0867', 'T0882'],
  unsolicitedOff: ['T0815', 'T0804', 'T0855'],
  unsolicitedOn: ['T0855'],
  probe: ['T0888'],
  command: ['T0855'],
} as const;

/**
 * Operations the protocol descriptors declare by function code (Modbus, IEC 104, BACnet, …): their kind is the
 * detection type. File housekeeping (open/close/list) only marks the engineering workstation's role.
 */
const BY_KIND: Readonly<Record<string, Omit<Op, 'what'> | null>> = {
  program_download: { type: 'program_download', severity: 'critical', techniques: T.download },
  program_upload: { type: 'program_upload', severity: 'medium', techniques: T.upload },
  cpu_start: { type: 'cpu_start', severity: 'critical', techniques: T.start },
  cpu_stop: { type: 'cpu_stop', severity: 'critical', techniques: T.stop },
  device_restart: { type: 'device_restart', severity: 'critical', techniques: T.restart },
  config_change: { type: 'config_change', severity: 'high', techniques: T.command },
  file_transfer: { type: 'file_transfer', severity: 'high', techniques: T.file },
  diagnostic_command: { type: 'diagnostic_command', severity: 'high', techniques: T.command },
  device_probe: { type: 'device_probe', severity: 'low', techniques: T.probe },
  file_management: null,
};

/** CIP operations (worked out from class, service and attribute) as detections. */
const CIP: Record<CipOperationKind, Omit<Op, 'what'>> = {
  firmware_update: { type: 'firmware_change', severity: 'critical', techniques: T.firmware },
  program_download: { type: 'program_download', severity: 'critical', techniques: T.download },
  program_upload: { type: 'program_upload', severity: 'medium', techniques: T.upload },
  controller_lock: { type: 'controller_lock', severity: 'high', techniques: T.lock },
  controller_unlock: { type: 'controller_lock', severity: 'medium', techniques: T.unlock },
  mode_program: { type: 'cpu_stop', severity: 'critical', techniques: T.stop },
  mode_run: { type: 'cpu_start', severity: 'critical', techniques: T.start },
  device_reset: { type: 'device_restart', severity: 'critical', techniques: T.restart },
  set_time: { type: 'time_change', severity: 'high', techniques: T.parameter },
  network_config: { type: 'network_config_change', severity: 'high', techniques: T.parameter },
};

const DNP3: Record<Dnp3OperationKind, Omit<Op, 'what'>> = {
  cold_restart: { type: 'device_restart', severity: 'critical', techniques: T.restart },
  warm_restart: { type: 'device_restart', severity: 'critical', techniques: T.restart },
  start_application: { type: 'cpu_start', severity: 'critical', techniques: T.start },
  stop_application: { type: 'cpu_stop', severity: 'critical', techniques: T.stop },
  initialise: { type: 'config_change', severity: 'high', techniques: ['T0836'] },
  enable_unsolicited: {
    type: 'unsolicited_control',
    severity: 'medium',
    techniques: T.unsolicitedOn,
  },
  disable_unsolicited: {
    type: 'unsolicited_control',
    severity: 'high',
    techniques: T.unsolicitedOff,
  },
  set_time: { type: 'time_change', severity: 'high', techniques: T.parameter },
  file_operation: { type: 'file_transfer', severity: 'high', techniques: T.file },
};

const S7: Record<S7OperationKind, Omit<Op, 'what'>> = {
  download: { type: 'program_download', severity: 'critical', techniques: T.download },
  upload: { type: 'program_upload', severity: 'medium', techniques: T.upload },
  stop: { type: 'cpu_stop', severity: 'critical', techniques: T.stop },
  start: { type: 'cpu_start', severity: 'critical', techniques: T.start },
  copy_ram_to_rom: {
    type: 'program_download',
    severity: 'critical',
    techniques: ['T0889', 'T0843'],
    kind: 'copy_ram_to_rom',
  },
  compress_memory: {
    type: 'config_change',
    severity: 'high',
    techniques: T.command,
    kind: 'compress_memory',
  },
  insert_block: { type: 'program_download', severity: 'critical', techniques: T.download },
  delete_block: { type: 'program_download', severity: 'critical', techniques: T.download },
  pi_service: {
    type: 'config_change',
    severity: 'high',
    techniques: T.command,
    kind: 'pi_service',
  },
  set_clock: { type: 'time_change', severity: 'high', techniques: T.parameter, kind: 'set_clock' },
  password: {
    type: 'password_submission',
    severity: 'high',
    techniques: ['T0859', 'T0812'],
    kind: 'password',
  },
};

/**
 * Schneider UMAS (Modbus FC 90) by UMAS function. Program transfers carry a kind so their many blocks fold into
 * one detection; variable writes keep the detail 'modbus:90' the ATT&CK map knows (Modify Controller Tasking).
 */
const UMAS: Record<UmasOperationKind, Omit<Op, 'what'>> = {
  start: { type: 'cpu_start', severity: 'critical', techniques: T.start },
  stop: { type: 'cpu_stop', severity: 'critical', techniques: T.stop },
  download: {
    type: 'program_download',
    severity: 'critical',
    techniques: T.download,
    kind: 'umas_program_download',
  },
  upload: {
    type: 'program_upload',
    severity: 'medium',
    techniques: T.upload,
    kind: 'umas_program_upload',
  },
  reservation: {
    type: 'controller_lock',
    severity: 'medium',
    techniques: T.lock,
    kind: 'umas_reservation',
  },
  write: { type: 'config_change', severity: 'high', techniques: ['T0836', 'T0821'] },
  probe: { type: 'device_probe', severity: 'low', techniques: T.probe },
  unknown: { type: 'config_change', severity: 'high', techniques: ['T0836', 'T0821'] },
};
const UMAS_KEY = functionKeyNumber('modbus', FC_UMAS);

const CIP_KEY = functionKeyNumber('cip', 0) - 1;
const DNP3_KEY = functionKeyNumber('dnp3', 0) - 1;
const S7_KEY = functionKeyNumber('s7comm', 0) - 1;
const S7_PLUS_KEY = functionKeyNumber('s7comm_plus', 0) - 1;
/** functionKeyNumber spaces protocols 0x20000 apart. */
const SPAN = 0x20000;

/**
 * Every Op is built here, all fields present in one order: report() then reads one object layout, not one per
 * table and spread (its property reads went megamorphic).
 */
function opOf(base: Omit<Op, 'what'>, what: string, kind?: string, point?: string): Op {
  return {
    type: base.type,
    severity: base.severity,
    what,
    techniques: base.techniques,
    kind: kind ?? base.kind,
    point: point ?? base.point,
  };
}

/** The engineering operation a request performs, if any; `key` is functionKeyNumber(m.protocol, m.func). */
export function operationOf(m: Message, key: number): Op | undefined {
  if (key > CIP_KEY && key <= CIP_KEY + SPAN) {
    const c = cipOperation(m);
    if (c === undefined) return undefined;
    const cls = m.fields?.class_id;
    const point = `class_0x${typeof cls === 'number' ? cls.toString(16) : '?'}/service_0x${m.func.toString(16)}`;
    return opOf(CIP[c.kind], c.what, c.kind, point);
  }
  if (key > DNP3_KEY && key <= DNP3_KEY + SPAN) {
    const d = dnp3Operation(m);
    return d === undefined ? undefined : opOf(DNP3[d.kind], d.what);
  }
  if ((key > S7_KEY && key <= S7_KEY + SPAN) || (key > S7_PLUS_KEY && key <= S7_PLUS_KEY + SPAN)) {
    const o = s7Operation(m);
    return o === undefined ? undefined : opOf(S7[o.kind], o.what);
  }
  if (key === UMAS_KEY) {
    const u = umasOperation(m);
    return u === undefined ? undefined : opOf(UMAS[u.kind], u.what);
  }
  const op = descriptorOperation(m, key);
  if (op === undefined) return undefined;
  const base = BY_KIND[op.kind];
  return base === null || base === undefined ? undefined : opOf(base, op.what);
}

/**
 * Protocols whose operations operationOf reads from the message itself, not only from the function code. A protocol
 * given content-dependent operations later must be listed here, or the engine's per-function shortcut skips them.
 */
const READS_MESSAGE = new Set(['cip', 'dnp3', 's7comm', 's7comm_plus', 'modbus']);

/**
 * False when no request of this protocol and function can be an operation (operationOf returns undefined for
 * every such message): only the function's descriptor entry decides for these protocols.
 */
export function mayOperate(protocol: string, func: number): boolean {
  // A CIP or DNP3 function code in its span is decided by cipOperation or dnp3Operation alone (see operationOf),
  // and each rules out some codes whatever the message holds: CIP's Get services (the polled Get_Attribute_List),
  // DNP3's READ, SELECT and OPERATE. Together ~73,000 of the benchmark's 493,180 requests.
  if (func >= 0 && func < SPAN) {
    if (protocol === 'cip') return !isCipRead(func);
    if (protocol === 'dnp3') return dnp3MayOperate(func);
  }
  return READS_MESSAGE.has(protocol) || operationOfFunction(protocol, func) !== undefined;
}

/** The engineering operation a request performs that is worth a detection (the name the registry's users know). */
export const reportedOperationOf = operationOf;

const LOWER: Record<Severity, Severity> = {
  critical: 'high',
  high: 'medium',
  medium: 'low',
  low: 'low',
  info: 'info',
};

/** What a finding about a request reads of it. */
type Request = Pick<
  Message,
  | 'protocol'
  | 'func'
  | 'funcName'
  | 'subfunc'
  | 'targets'
  | 'fields'
  | 'srcIp'
  | 'srcMac'
  | 'dstIp'
  | 'dstMac'
  | 'ts'
  | 'frame'
>;

/**
 * An operation awaiting its response, so a refusal can be reported as a failed attempt. The request is copied:
 * the message object is the dissector's to reuse once the hooks return.
 */
interface Pending {
  op: Op;
  m: Request;
}

function requestOf(m: Message): Request {
  return {
    protocol: m.protocol,
    func: m.func,
    funcName: m.funcName,
    subfunc: m.subfunc,
    targets: m.targets,
    fields: m.fields,
    srcIp: m.srcIp,
    srcMac: m.srcMac,
    dstIp: m.dstIp,
    dstMac: m.dstMac,
    ts: m.ts,
    frame: m.frame,
  };
}

/** Where the answer to a request will be found: CIP by service, DNP3 by application sequence. */
function pendingKey(m: Message): number {
  return m.protocol === 'dnp3' ? 0x10000 + (m.txId & 0x0f) : m.func;
}

/** Protocols whose refusals are matched to the operation asked: CIP, DNP3 and UMAS (0xFD or a Modbus exception). */
function answered(m: Message): boolean {
  return (
    m.protocol === 'cip' || m.protocol === 'dnp3' || (m.protocol === 'modbus' && m.func === FC_UMAS)
  );
}

function techniquesText(op: Op): string {
  return `ATT&CK for ICS ${op.techniques.join(', ')}`;
}

/**
 * Engineering operations and their outcome. Requests raise the operation's own detection type at once; a
 * refusal from the device (CIP general status, DNP3 IIN2 error bits) raises the same type again as a failed
 * attempt, so a firmware flash or download that the controller rejected is not mistaken for nothing.
 */
export function engineeringOps(): Detector[] {
  const pending = new WeakMap<EdgeRuntime, Map<number, Pending>>();
  const requests: Detector = {
    name: 'engineering_ops',
    messages: 'operations',
    onMessage(m, ctx) {
      if (m.role === 'response') return;
      const op = ctx.operation;
      if (op === undefined) return;
      const e = ctx.edge;
      if (e !== undefined && answered(m)) {
        let p = pending.get(e);
        if (p === undefined) pending.set(e, (p = new Map()));
        p.set(pendingKey(m), { op, m: requestOf(m) });
      }
      report(m, op, ctx, false, -1, undefined, ctx.funcKey);
    },
  };
  const outcomes: Detector = {
    name: 'engineering_outcome',
    messages: 'refusals',
    protocols: ['cip', 'dnp3', 'modbus'],
    onMessage(m, ctx) {
      if (m.role !== 'response' || m.exception <= 0) return;
      if (!answered(m)) return;
      const e = ctx.edge;
      if (e === undefined) return;
      const p = pending.get(e);
      const got = p?.get(pendingKey(m));
      if (got === undefined) return;
      report(got.m, got.op, ctx, true, m.exception, m.frame);
    },
  };
  return [requests, outcomes];
}

function report(
  m: Request,
  op: Op,
  ctx: DetectContext,
  failed: boolean,
  status: number,
  responseFrame?: number,
  /** functionKeyNumber(m.protocol, m.func) when the caller has it (the engine's ctx.funcKey for a request). */
  key = functionKeyNumber(m.protocol, m.func),
): void {
  const engineering = ENGINEERING.has(op.type);
  const usual = ctx.edge?.profile?.functions.has(key) ?? false;
  // Probes and diagnostics this pair routinely sent while learning are normal; engineering operations never are.
  if (usual && !engineering && op.severity !== 'critical') return;
  const severity: Severity = usual ? LOWER[op.severity] : op.severity;
  const src = m.srcIp || m.srcMac,
    dst = m.dstIp || m.dstMac;
  const frame = failed && responseFrame !== undefined ? responseFrame : m.frame;
  // A repeat (a download is thousands of object writes) folds without building its text and fields.
  const detail = `${m.protocol}:${op.kind ?? m.func}${failed ? ':failed' : ''}`;
  if (ctx.fold(op.type, src, dst, detail, severity, m.ts, frame, op.point)) return;
  const what = failed ? `made a failed attempt (${op.what})` : op.what;
  const refused = failed
    ? `; the device refused it (status 0x${status.toString(16).padStart(2, '0')}${responseFrame !== undefined ? `, frame ${responseFrame}` : ''})`
    : '';
  // One literal per outcome, the dissector's fields copied after: no spreads building temporary objects inside
  // the literal (after a spread, V8 defines each later property through the runtime).
  const fields: Record<string, unknown> = failed
    ? {
        func: m.func,
        func_name: m.funcName,
        subfunc: m.subfunc,
        targets: m.targets,
        in_baseline: usual,
        outcome: 'failed',
        status,
        request_frame: m.frame,
        attack: op.techniques,
      }
    : {
        func: m.func,
        func_name: m.funcName,
        subfunc: m.subfunc,
        targets: m.targets,
        in_baseline: usual,
        outcome: 'sent',
        attack: op.techniques,
      };
  // The dissector's fields last, overriding a same-named key in place, as a spread would (they are built by
  // code from fixed names, so no key is a setter).
  if (m.fields) Object.assign(fields, m.fields);
  ctx.report(
    finding({
      type: op.type,
      severity,
      ts: m.ts,
      frame,
      src,
      dst,
      protocol: m.protocol,
      detail,
      fields,
      explanation: `${src} ${what} on ${dst} (${m.protocol} ${serviceName(m)})${refused}${usual ? '; this pair did so while the baseline was learned' : ''}. ${techniquesText(op)}.`,
      response:
        op.severity === 'critical' || op.severity === 'high'
          ? 'Check the change request and the engineer on shift; if nobody owns this change, isolate the source and verify the controller program and mode.'
          : 'Note who is probing the device; repeated probes from unknown hosts precede attacks.',
      point: op.point,
      // The text of several points folded: only an operation that names its point folds points.
      explainMany:
        op.kind !== undefined && op.point !== undefined
          ? (list: string, total: number) =>
              `${src} ${failed ? 'made failed attempts at a' : 'performed a'} ${op.kind!.replace(/_/g, ' ')} on ${dst}: ${total} object operations (${list})${usual ? '; this pair did so while the baseline was learned' : ''}. ${techniquesText(op)}.`
          : undefined,
    }),
  );
}

/**
 * The request's service as the explanation names it. CIP services from 0x4B up are object-specific: the
 * generic table's name (EXECUTE_PCCC, READ_TAG…) is only right on the object it belongs to, so vendor objects
 * are named by class and code.
 */
function serviceName(m: Request): string {
  if (m.protocol === 'cip' && m.func >= 0x4b) {
    const cls = m.fields?.class_id;
    const tagged = m.fields?.tag !== undefined || cls === 0x6b || (m.func === 0x4b && cls === 0x67);
    if (!tagged && typeof cls === 'number')
      return `class 0x${cls.toString(16)} service 0x${m.func.toString(16)}`;
  }
  return m.funcName || String(m.func);
}
