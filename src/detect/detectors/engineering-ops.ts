import { functionKeyNumber, type Message } from '../../dissect/message.js';
import type { DetectionType, Severity } from '../detection.js';
import type { Detector } from '../detector.js';

interface Op {
  type: DetectionType;
  severity: Severity;
  what: string;
}

/**
 * Functions that change what a controller runs or whether it runs: program transfer, run/stop, restarts,
 * firmware and configuration, file transfer. Always worth a line, even from the usual engineering workstation.
 */
const OPS: Record<string, Record<number, Op>> = {
  s7comm: {
    0x1a: {
      type: 'program_download',
      severity: 'critical',
      what: 'started a program block download',
    },
    0x1b: { type: 'program_download', severity: 'critical', what: 'downloaded a program block' },
    0x1c: {
      type: 'program_download',
      severity: 'critical',
      what: 'ended a program block download',
    },
    0x1d: { type: 'program_upload', severity: 'medium', what: 'started a program block upload' },
    0x1e: { type: 'program_upload', severity: 'medium', what: 'uploaded a program block' },
    0x1f: { type: 'program_upload', severity: 'medium', what: 'ended a program block upload' },
    0x28: {
      type: 'cpu_start',
      severity: 'critical',
      what: 'ran a PI service (start/compress/insert/delete)',
    },
    0x29: { type: 'cpu_stop', severity: 'critical', what: 'stopped the PLC CPU' },
  },
  modbus: {
    8: {
      type: 'diagnostic_command',
      severity: 'high',
      what: 'sent a diagnostics command (can restart communications or force listen-only)',
    },
    17: { type: 'device_probe', severity: 'low', what: 'asked for the server id' },
    43: { type: 'device_probe', severity: 'low', what: 'read the device identification' },
    90: {
      type: 'config_change',
      severity: 'high',
      what: 'used the Schneider UMAS engineering function (program/config access)',
    },
  },
  dnp3: {
    13: { type: 'device_restart', severity: 'critical', what: 'cold-restarted the outstation' },
    14: { type: 'device_restart', severity: 'critical', what: 'warm-restarted the outstation' },
    15: { type: 'config_change', severity: 'high', what: 'initialised data to defaults' },
    16: { type: 'config_change', severity: 'high', what: 'initialised an application' },
    17: { type: 'cpu_start', severity: 'critical', what: 'started an application' },
    18: { type: 'cpu_stop', severity: 'critical', what: 'stopped an application' },
    25: { type: 'file_transfer', severity: 'high', what: 'opened a file' },
    27: { type: 'file_transfer', severity: 'high', what: 'deleted a file' },
  },
  cip: {
    0x05: { type: 'device_restart', severity: 'critical', what: 'reset the device' },
    0x06: { type: 'cpu_start', severity: 'critical', what: 'sent a CIP Start' },
    0x07: { type: 'cpu_stop', severity: 'critical', what: 'sent a CIP Stop' },
  },
  iec104: {
    105: { type: 'device_restart', severity: 'critical', what: 'sent a reset process command' },
    122: { type: 'file_transfer', severity: 'high', what: 'called a file/section for transfer' },
    125: { type: 'file_transfer', severity: 'high', what: 'sent a file segment' },
  },
  bacnet: {
    20: { type: 'device_restart', severity: 'critical', what: 'reinitialised the device' },
    17: { type: 'config_change', severity: 'high', what: 'changed device communication control' },
    7: { type: 'file_transfer', severity: 'high', what: 'wrote a file to the device' },
  },
};

/** The same table keyed by functionKeyNumber: one numeric lookup per request on the hot path. */
const OPS_BY_KEY = new Map<number, Op>();
for (const [protocol, ops] of Object.entries(OPS))
  for (const [func, op] of Object.entries(ops))
    OPS_BY_KEY.set(functionKeyNumber(protocol, Number(func)), op);

/** The engineering operation a request performs, if any; `key` is functionKeyNumber(m.protocol, m.func). */
export function operationOf(m: Message, key: number): Op | undefined {
  const op = OPS_BY_KEY.get(key);
  if (op === undefined) return undefined;
  if (
    m.protocol === 's7comm' &&
    m.fields?.rosctr !== undefined &&
    m.fields.rosctr !== 1 &&
    m.fields.rosctr !== 'JOB'
  )
    return undefined;
  return op;
}

export function engineeringOps(): Detector {
  return {
    name: 'engineering_ops',
    messages: 'requests',
    onMessage(m, ctx) {
      if (m.role === 'response') return;
      const op = operationOf(m, ctx.funcKey);
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
