import type { Detector } from '../detector.js';
import { serviceName } from '../../discover/services.js';
import { industrialServiceNames } from '../../dissect/registry.js';
import { ipProtocolLabel } from '../housekeeping.js';
import { finding } from '../detection.js';

/**
 * A conversation the baseline never had. TCP edges count only once the server answers, so connection
 * attempts to closed ports are left to the scan detector instead of flooding this one.
 */
export function newEdge(): Detector {
  return {
    name: 'new_edge',
    packets: 'unprofiled',
    onPacket(pkt, ctx) {
      const e = ctx.edge;
      if (e === undefined || e.profile !== null || e.newEdgeReported) return;
      if (e.addr.transport === 'tcp' && !e.answered) return;
      if (e.addr.server === '0.0.0.0' || e.addr.client === '0.0.0.0') return;
      e.newEdgeReported = true;
      const a = e.addr;
      const ip = a.transport === 'ip' ? ipProtocolLabel(pkt) : null;
      const named = a.transport === 'ip' ? undefined : serviceName(a.transport, a.port);
      const service = ip !== null ? ip.label : (named ?? `${a.transport}/${a.port}`);
      const ics = named !== undefined && industrialServiceNames.has(named);
      ctx.report(
        finding({
          type: 'new_edge',
          severity: ics ? 'high' : 'medium',
          ts: pkt.ts,
          frame: pkt.frame,
          src: a.client,
          dst: a.server,
          protocol: ip !== null ? ip.name : (named ?? a.transport),
          detail: a.id,
          fields: { edge: a.id, transport: a.transport, port: a.port },
          explanation: `${a.client} talked to ${a.server} over ${service}, a conversation not in the baseline.`,
          response: ics
            ? 'Confirm with the controls engineer whether this client should reach this controller; if not, propose a block of the pair.'
            : 'Check whether the connection is expected; learn it into the baseline or propose a block.',
        }),
      );
    },
  };
}
