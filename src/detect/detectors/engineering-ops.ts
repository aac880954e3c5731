import type { Message } from '../../dissect/message.js';
import type { EngineeringOp, EngineeringOpKind } from '../../dissect/protocol.js';
import { operationOf } from '../../dissect/registry.js';
import type { DetectionType, Severity } from '../detection.js';
import type { Detector } from '../detector.js';

/** Kinds of engineering operation worth a detection of their own (their names are detection types). */
type ReportedKind = Exclude<EngineeringOpKind, 'file_management'>;

/**
 * How much each kind of engineering operation matters; the protocols' descriptors say which functions perform
 * which kind. File housekeeping (open/close/list) only marks the engineering workstation's role: not reported.
 */
const SEVERITY: Readonly<Record<ReportedKind, Severity>> = {
  program_download: 'critical',
  program_upload: 'medium',
  cpu_start: 'critical',
  cpu_stop: 'critical',
  device_restart: 'critical',
  config_change: 'high',
  file_transfer: 'high',
  diagnostic_command: 'high',
  device_probe: 'low',
};

interface Op {
  type: DetectionType;
  severity: Severity;
  what: string;
}

/** One Op per descriptor operation, made on first use: nothing is allocated per message. */
const REPORTED = new Map<EngineeringOp, Op | null>();

/** The engineering operation a request performs, worth a detection; `key` is functionKeyNumber(m.protocol, m.func). */
export function reportedOperationOf(m: Message, key: number): Op | undefined {
  const op = operationOf(m, key);
  if (op === undefined) return undefined;
  let r = REPORTED.get(op);
  if (r === undefined) {
    const kind = op.kind;
    r = kind === 'file_management' ? null : { type: kind, severity: SEVERITY[kind], what: op.what };
    REPORTED.set(op, r);
  }
  return r ?? undefined;
}

export function engineeringOps(): Detector {
  return {
    name: 'engineering_ops',
    messages: 'requests',
    onMessage(m, ctx) {
      if (m.role === 'response') return;
      const op = reportedOperationOf(m, ctx.funcKey);
      if (op === undefined) return;
      const usual = ctx.edge?.profile?.functions.has(ctx.funcKey) ?? false;
      // What this pair routinely did while learning is only repeated when it touches the running program.
      if (usual && op.severity !== 'critical') return;
      const severity: Severity = usual ? 'medium' : op.severity;
      ctx.report({
        type: op.type,
        severity,
        ts: m.ts,
        frame: m.frame,
        src: m.srcIp || m.srcMac,
        dst: m.dstIp || m.dstMac,
        protocol: m.protocol,
        detail: `${m.protocol}:${m.func}`,
        fields: {
          func: m.func,
          func_name: m.funcName,
          subfunc: m.subfunc,
          targets: m.targets,
          in_baseline: usual,
          ...(m.fields ?? {}),
        },
        explanation: `${m.srcIp || m.srcMac} ${op.what} on ${m.dstIp || m.dstMac} (${m.protocol} ${m.funcName || m.func})${usual ? '; this pair did so while the baseline was learned' : ''}.`,
        response:
          op.severity === 'critical' || op.severity === 'high'
            ? 'Check the change request and the engineer on shift; if nobody owns this change, isolate the source and verify the controller program and mode.'
            : 'Note who is probing the device; repeated probes from unknown hosts precede attacks.',
      });
    },
  };
}
