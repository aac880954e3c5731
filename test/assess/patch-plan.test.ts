// The patch plan's interruptions come from an index of edges by address (the manager plans every site's patches
// per request): each edge touching the asset once, in edge order, as the scan of all edges gave them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planPatches } from '../../src/assess/patch-plan.js';
import type { Edge } from '../../src/discover/model.js';
import type { VulnerabilityReport } from '../../src/assess/vulnerabilities.js';

const edge = (client: string, server: string, port: number, pollInterval: number | null = null) =>
  ({ client, server, protocol: 'modbus', port, pollInterval }) as unknown as Edge;

test('interruptions: every edge at either of the asset’s addresses, once each, in edge order', () => {
  const vulns = {
    maintenanceWindows: [],
    assets: [
      {
        assetId: 'plc',
        addresses: ['10.0.0.1', '10.0.0.2'],
        zone: null,
        findings: [{ advisoryId: 'ICSA-1', fixAvailable: true }],
      },
    ],
  } as unknown as VulnerabilityReport;
  const steps = planPatches(
    vulns,
    [],
    [
      edge('10.0.0.9', '10.0.0.1', 502, 0.5),
      edge('10.0.0.7', '10.0.0.8', 503),
      edge('10.0.0.2', '10.0.0.5', 504),
      edge('10.0.0.1', '10.0.0.2', 505),
      edge('10.0.0.1', '10.0.0.1', 506),
    ],
  );
  assert.deepEqual(steps[0]!.interrupts, [
    '10.0.0.9 polls it over modbus/502 every 0.5 s',
    'it talks to 10.0.0.5 over modbus/504',
    '10.0.0.1 talks to it over modbus/505',
    '10.0.0.1 talks to it over modbus/506',
  ]);
});
