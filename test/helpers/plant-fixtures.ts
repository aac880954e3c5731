import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { repoRoot } from './paths.js';
import type { Baseline, EdgeProfile } from '../../src/discover/baseline.js';

/** The sample plant's two zones; `mode` is the control zone's rung on the ladder. */
export const policyText = (mode: string): string => `weir: policy/1
timezone: UTC
zones:
  - { name: supervisory, members: [10.77.0.10], mode: observe, approvals: [security] }
  - { name: control, members: [10.77.0.21], mode: ${mode}, approvals: [security, engineering] }
conduits:
  - { name: sup-ctl, from: supervisory, to: control }
groups:
  - { name: hmi, conduit: sup-ctl, clients: [10.77.0.10], servers: [10.77.0.21], protocol: modbus, access: read-write }
`;

export function edge(
  client: string,
  server: string,
  port: number,
  protocol: string,
  functions: string[],
  requests: number,
): EdgeProfile {
  return {
    id: `${client}>${server}:${port}`,
    client,
    server,
    transport: 'tcp',
    port,
    protocols: [protocol],
    functions,
    reads: {},
    writes: {},
    values: {},
    pollInterval: 1,
    pollJitter: 0.01,
    maxRequestGap: 2,
    requestRate: 1,
    requests,
    anomalyKinds: [],
    firstSeen: 0,
    lastSeen: 100,
  };
}

/** A baseline in which the PLC 10.77.0.21 serves an HMI (Modbus) and an engineering station (S7). */
export function plantBaseline(): Baseline {
  const edges = [
    edge('10.77.0.10', '10.77.0.21', 502, 'modbus', ['modbus:3', 'modbus:16'], 900),
    edge('10.77.0.30', '10.77.0.21', 102, 's7comm', ['s7comm:4'], 40),
    edge('10.77.0.10', '10.77.0.40', 20000, 'dnp3', ['dnp3:1'], 12),
  ];
  return {
    version: 1,
    createdAt: '2024-01-01T00:00:00Z',
    sources: ['plant.pcap'],
    note: '',
    from: 0,
    to: 100,
    assets: [],
    macs: {},
    edges: Object.fromEntries(edges.map((e) => [e.id, e])),
  };
}

/** A store of the sample plant as a new user builds it: inventory, a baseline of the first half, detections on the rest. */
export function detectedPlantStore(dir: string): string {
  const file = path.join(dir, 'weir.db');
  const plant = path.join(repoRoot, 'fixtures/plant.pcap');
  for (const args of [
    ['discover', plant, '--db', file],
    ['learn', plant, '--db', file, '--until', '50%'],
    ['detect', plant, '--baseline', file, '--from', '50%', '--jsonl'],
  ]) {
    execFileSync(process.execPath, [path.join(repoRoot, 'dist/src/cli/main.js'), ...args], {
      stdio: 'ignore',
    });
  }
  return file;
}
