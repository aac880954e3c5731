import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inferRoles } from '../../src/discover/roles.js';
import type { Asset, Edge } from '../../src/discover/model.js';
import { discoverFiles, assetOf, plantCapture } from '../helpers/discover.js';

test('plant: the attacker (nmap scan, then unauthorised writes) is a scanner, not an engineering workstation', async () => {
  const snap = await discoverFiles(plantCapture);
  const attacker = assetOf(snap, '10.77.0.66');
  assert.equal(attacker.role, 'scanner', attacker.roleReasons.join('; '));
  assert.ok(
    attacker.roleReasons.some((r) => /200 ports/.test(r)),
    attacker.roleReasons.join('; '),
  );
  assert.ok(
    attacker.roleReasons.some((r) => /write/.test(r)),
    'the writes stay among the reasons',
  );
  // The real engineering workstation keeps its role: it stopped the CPU and read the device identity.
  const ews = assetOf(snap, '10.77.0.30');
  assert.equal(ews.role, 'engineering_workstation', ews.roleReasons.join('; '));
});

/** A client edge as the inventory records it; only what roles read is filled in. */
function clientEdge(client: string, server: string, port: number, over: Partial<Edge> = {}): Edge {
  return {
    id: `${client}>${server}:${port}`,
    client,
    server,
    transport: 'tcp',
    port,
    protocol: 'modbus',
    protocols: ['modbus'],
    packets: 4,
    bytes: 300,
    firstSeen: 1,
    lastSeen: 2,
    functions: [],
    targets: [],
    requests: 2,
    responses: 2,
    pollInterval: null,
    pollJitter: null,
    maxRequestGap: 0,
    anomalies: 0,
    anomalyKinds: [],
    ...over,
  };
}

function bareAsset(ip: string): Asset {
  return {
    id: ip,
    ips: [ip],
    mac: null,
    macVendor: null,
    hostnames: [],
    identity: {},
    identitySources: {},
    role: 'unknown',
    roleReasons: [],
    serves: [],
    uses: [],
    firstSeen: 1,
    lastSeen: 2,
    packetsSent: 0,
    bytesSent: 0,
    packetsReceived: 0,
    bytesReceived: 0,
  };
}

test('one-off writes without the engineering signature give role unknown, with the writes as the reason', () => {
  const a = bareAsset('10.0.0.9');
  const e = clientEdge('10.0.0.9', '10.0.0.21', 502, {
    functions: [
      {
        protocol: 'modbus',
        func: 6,
        name: 'WRITE_SINGLE_REGISTER',
        count: 2,
        writes: 2,
        exceptions: 0,
      },
    ],
  });
  inferRoles([a], [e]);
  assert.equal(a.role, 'unknown', a.roleReasons.join('; '));
  assert.ok(
    a.roleReasons.some((r) => /2 ad-hoc writes to 10\.0\.0\.21/.test(r)),
    a.roleReasons.join('; '),
  );
  assert.ok(
    a.roleReasons.some((r) => /no engineering functions/.test(r)),
    a.roleReasons.join('; '),
  );

  // With a device identification read and a program download it is an engineering workstation.
  const b = bareAsset('10.0.0.9');
  inferRoles(
    [b],
    [
      clientEdge('10.0.0.9', '10.0.0.21', 502, {
        functions: [
          {
            protocol: 'modbus',
            func: 43,
            name: 'ENCAP_INTERFACE_TRANSPORT',
            count: 1,
            writes: 0,
            exceptions: 0,
          },
          {
            protocol: 'modbus',
            func: 16,
            name: 'WRITE_MULTIPLE_REGISTERS',
            count: 1,
            writes: 1,
            exceptions: 0,
          },
        ],
      }),
    ],
  );
  assert.equal(b.role, 'engineering_workstation', b.roleReasons.join('; '));
});
