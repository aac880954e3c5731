// OPC UA in the inventory: the lab capture (fixtures/opcua-session.pcap) gives the server its identity from
// GetEndpoints and BuildInfo, the client its application description, and each its side of the service.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { assetOf, discoverFiles } from '../helpers/discover.js';
import { repoRoot } from '../helpers/paths.js';

const SERVER = '10.84.0.10',
  CLIENT = '10.84.0.20';

test('OPC UA lab capture: server and client identities and roles', async () => {
  const snap = await discoverFiles(path.join(repoRoot, 'fixtures', 'opcua-session.pcap'));
  const server = assetOf(snap, SERVER);
  assert.equal(server.identity.vendor, 'Weir Lab');
  assert.equal(server.identity.model, 'Line1 Controller');
  assert.equal(server.identity.firmware, '2.4.1 (build 1187)');
  assert.equal(server.identity.product, 'Weir Lab Line 1 Controller');
  assert.equal(server.identity.deviceType, 'OPC UA server');
  assert.ok(server.serves.includes('opcua'), server.serves.join(','));
  assert.equal(server.role, 'plc', server.roleReasons.join('; '));
  assert.match(server.roleReasons.join('; '), /serves opcua/);
  const client = assetOf(snap, CLIENT);
  assert.equal(client.identity.product, 'Weir Lab Engineering Station');
  assert.equal(client.identity.deviceType, 'OPC UA client');
  assert.ok(client.uses.includes('opcua'), client.uses.join(','));
  assert.ok(
    ['hmi', 'historian'].includes(client.role),
    `${client.role}: ${client.roleReasons.join('; ')}`,
  );
  const edge = snap.edges.find(
    (e) => e.client === CLIENT && e.server === SERVER && e.protocol === 'opcua',
  );
  assert.ok(edge, 'the OPC UA edge');
  const names = edge.functions.map((f) => f.name);
  for (const n of ['ReadRequest', 'WriteRequest', 'CallRequest', 'GetEndpointsRequest'])
    assert.ok(names.includes(n), `${n} in ${names.join(',')}`);
});
