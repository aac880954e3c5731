import type { Command } from 'commander';
import type { Message } from '../../dissect/message.js';
import { isIndustrial } from '../../dissect/registry.js';
import { runCaptures, warnCaptureErrors } from '../run-capture.js';
import { LineWriter } from '../line-writer.js';

/** One JSON object per ICS message, with Zeek ICSNPP-style names. */
export function messageJson(m: Message): Record<string, unknown> {
  const o: Record<string, unknown> = {
    frame: m.frame,
    ts: m.ts,
    protocol: m.protocol,
    transport: m.transport,
    src: m.srcIp || m.srcMac,
    dst: m.dstIp || m.dstMac,
    src_port: m.srcPort,
    dst_port: m.dstPort,
    role: m.role,
    func: m.func,
    func_name: m.funcName,
  };
  if (m.srcMac) o.src_mac = m.srcMac;
  if (m.dstMac) o.dst_mac = m.dstMac;
  if (m.subfunc !== -1) o.subfunc = m.subfunc;
  if (m.unit !== -1) o.unit = m.unit;
  if (m.txId !== -1) o.tx_id = m.txId;
  if (m.exception !== -1) o.exception = m.exception;
  if (m.write) o.write = true;
  if (m.targets) o.targets = m.targets;
  if (m.values) o.values = m.values;
  if (m.identity) o.identity = m.identity;
  if (m.anomaly) {
    o.anomaly = m.anomaly.detail;
    o.anomaly_kind = m.anomaly.kind;
  }
  if (m.fields) o.fields = m.fields;
  return o;
}

function messageText(m: Message): string {
  const t = new Date(m.ts * 1000).toISOString().slice(11, 23);
  const src = m.srcIp ? `${m.srcIp}:${m.srcPort}` : m.srcMac;
  const dst = m.dstIp ? `${m.dstIp}:${m.dstPort}` : m.dstMac;
  const targets =
    m.targets
      ?.map((x) => `${x.space}[${x.start}${x.count > 1 ? `..${x.start + x.count - 1}` : ''}]`)
      .join(' ') ?? '';
  const extra = [
    m.unit !== -1 ? `unit=${m.unit}` : '',
    m.exception !== -1 ? `exception=${m.exception}` : '',
    m.anomaly ? `MALFORMED(${m.anomaly.kind}: ${m.anomaly.detail})` : '',
    m.write ? 'WRITE' : '',
  ]
    .filter(Boolean)
    .join(' ');
  return `${String(m.frame).padStart(7)} ${t} ${src} → ${dst} ${m.protocol} ${m.role} ${m.funcName || m.func} ${targets} ${extra}`.trimEnd();
}

export function registerDissect(program: Command): void {
  program
    .command('dissect')
    .description(
      'dissect industrial protocol messages from capture files (pcap/pcapng, "-" for stdin)',
    )
    .argument('<files...>', 'capture files')
    .option('--jsonl', 'one JSON object per message (machine-readable)')
    .option('-p, --protocol <names>', 'only these protocols, comma-separated (e.g. modbus,s7comm)')
    .option('--all', 'include identity protocols (ARP, DHCP, LLDP, …), not only industrial ones')
    .action(
      async (files: string[], opts: { jsonl?: boolean; protocol?: string; all?: boolean }) => {
        const only = opts.protocol ? new Set(opts.protocol.split(',').map((s) => s.trim())) : null;
        const out = new LineWriter(process.stdout);
        const results = await runCaptures(
          files,
          {
            onMessage(m) {
              if (only ? !only.has(m.protocol) : !opts.all && !isIndustrial(m.protocol)) return;
              out.write(opts.jsonl ? JSON.stringify(messageJson(m)) : messageText(m));
            },
          },
          { progress: false },
        );
        await out.end();
        warnCaptureErrors(results);
      },
    );
}
