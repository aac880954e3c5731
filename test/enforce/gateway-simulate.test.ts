// `weir policy simulate` must refuse what the gateway refuses: on recorded sessions of each protocol the gateway
// learnt last (the node-opcua recording, and the UMAS, FINS/TCP, SLMP and MMS sessions the fixture generators
// write), the simulator's refused requests, counted by function and reason, equal the gateway inspector's
// refusals when each client's bytes are pushed through it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { readCaptureSync } from '../../src/capture/source.js';
import { DissectPipeline } from '../../src/dissect/pipeline.js';
import { gatewayDissector, subFunctionKey } from '../../src/dissect/registry.js';
import { parsePolicy } from '../../src/policy/load.js';
import { CompiledPolicy } from '../../src/policy/evaluate.js';
import { Simulator } from '../../src/policy/simulate.js';
import { StreamInspector } from '../../src/enforce/gateway/inspector.js';
import { pduContext } from '../helpers/pdu-context.js';
import { umasSession } from '../fixtures-gen/umas-session.js';
import { finsSession } from '../fixtures-gen/fins-session.js';
import { slmpSession } from '../fixtures-gen/slmp-session.js';
import { mmsSession } from '../fixtures-gen/mms-session.js';
import { clientConnections, OPCUA_FIXTURE } from './gateway-frames.js';

const POLICY = `weir: policy/1
zones:
  - { name: sup, members: [10.84.0.20, 10.9.0.30, 10.96.0.30, 10.57.0.30, 10.61.0.10], mode: monitor }
  - { name: ctl, members: [10.84.0.10, 10.9.0.20, 10.96.0.20, 10.57.0.20, 10.61.0.20], mode: enforce }
conduits: [{ name: c, from: sup, to: ctl }]
groups:
  - { name: opcua, conduit: c, clients: [10.84.0.20], servers: [10.84.0.10], protocol: opcua }
  - { name: umas, conduit: c, clients: [10.9.0.30], servers: [10.9.0.20], protocol: modbus,
      functions: [umas_read_id, umas_read_variables] }
  - { name: fins, conduit: c, clients: [10.96.0.30], servers: [10.96.0.20], protocol: fins, transport: tcp }
  - { name: slmp, conduit: c, clients: [10.57.0.30], servers: [10.57.0.20], protocol: slmp,
      functions: [read_cpu_model, device_read] }
  - { name: mms, conduit: c, clients: [10.61.0.10], servers: [10.61.0.20], protocol: mms }
`;

const SESSIONS: Array<{
  name: string;
  port: number;
  protocol: string;
  pcap: () => Buffer | string;
}> = [
  { name: 'opcua', port: 4840, protocol: 'opcua', pcap: () => OPCUA_FIXTURE },
  { name: 'umas', port: 502, protocol: 'modbus', pcap: umasSession },
  { name: 'fins', port: 9600, protocol: 'fins', pcap: finsSession },
  { name: 'slmp', port: 5007, protocol: 'slmp', pcap: slmpSession },
  { name: 'mms', port: 102, protocol: 'mms', pcap: mmsSession },
];

test('policy simulate refuses exactly what the gateway refuses, request by request, on recorded sessions', () => {
  const r = parsePolicy(POLICY, 'p.yaml');
  assert.ok(r.ok, JSON.stringify(!r.ok && r.errors));
  const cp = new CompiledPolicy(r.policy);
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-gw-sim-'));
  try {
    for (const s of SESSIONS) {
      const made = s.pcap();
      const file = typeof made === 'string' ? made : path.join(dir, `${s.name}.pcap`);
      if (typeof made !== 'string') writeFileSync(file, made);

      // The simulator, as `weir policy simulate` runs it.
      const sim = new Simulator(cp, null);
      const p = new DissectPipeline({
        onPacket: (x) => sim.onPacket(x),
        onMessage: (m) => sim.onMessage(m),
      });
      readCaptureSync(file, (f) => p.push(f));
      const simulated = new Map<string, number>();
      for (const b of sim.result().blocked)
        if (b.func !== null && b.transport === 'tcp' && b.port === s.port)
          simulated.set(
            `${b.func}|${b.reason}`,
            (simulated.get(`${b.func}|${b.reason}`) ?? 0) + b.requests,
          );

      // The gateway: each client connection's bytes, PDU by PDU. Where the gateway closes a connection (an OPC UA
      // refusal, a secured channel), the client would connect again: the harness goes on with an inspector that
      // has read the same bytes before (under open rules, as the simulator's dissector has), so every later
      // request is judged too.
      const d = gatewayDissector(s.protocol)!;
      const gateway = new Map<string, number>();
      for (const c of clientConnections(file, s.port)) {
        const rules = cp.rules(c.client, c.server, 'tcp', s.port);
        const pdus: Buffer[] = [];
        for (let off = 0; off < c.bytes.length; ) {
          const n = d.pduLength(c.bytes, off, c.bytes.length - off);
          assert.ok(n > 0, `${s.name}: framing at ${off}`);
          pdus.push(c.bytes.subarray(off, off + n));
          off += n;
        }
        const reopened = (seen: number): StreamInspector => {
          const ins = new StreamInspector(
            d,
            { ...rules, open: true },
            { ...pduContext(), srcIp: c.client, dstIp: c.server, srcPort: 40000, dstPort: s.port },
            { deny: 'drop', budgetMicros: 1e6 },
          );
          for (const x of pdus.slice(0, seen)) ins.push(x);
          ins.events.length = 0;
          ins.rules = rules;
          return ins;
        };
        let ins = reopened(0);
        pdus.forEach((x, i) => {
          const acts = ins.push(x);
          for (const e of ins.events.splice(0))
            if (e.kind === 'denied') {
              const sub = subFunctionKey(e.message!);
              const k = `${sub >= 0 ? sub : e.message!.func}|${e.reason}`;
              gateway.set(k, (gateway.get(k) ?? 0) + 1);
            } else assert.notEqual(e.kind, 'fail_open');
          if (acts.some((a) => a.kind === 'close')) ins = reopened(i + 1);
        });
      }
      assert.ok(gateway.size > 0, `${s.name}: the session has refusals to compare`);
      assert.deepEqual(
        [...gateway].sort(),
        [...simulated].sort(),
        `${s.name}: gateway and simulate disagree`,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
