// Identity facts extracted by Weir agree with the values tshark decodes from the same crafted frames.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { readCaptureSync } from '../../src/capture/source.js';
import { DissectPipeline } from '../../src/dissect/pipeline.js';
import type { Message } from '../../src/dissect/message.js';
import { repoRoot } from '../helpers/paths.js';

const file = path.join(repoRoot, 'fixtures/identity.pcap');

function tshark(field: string): string[] {
  return execFileSync('tshark', ['-r', file, '-T', 'fields', '-e', field], {
    stdio: ['ignore', 'pipe', 'ignore'],
  })
    .toString()
    .split('\n')
    .filter(Boolean);
}

function messages(): Message[] {
  const out: Message[] = [];
  const p = new DissectPipeline({ onMessage: (m) => out.push(structuredClone(m)) });
  readCaptureSync(file, (f) => p.push(f));
  return out;
}

test('LLDP, CDP, Profinet DCP, DHCP, ARP, NBNS and mDNS identities match tshark', () => {
  const ms = messages();
  const by = (p: string) => ms.filter((m) => m.protocol === p);
  assert.deepEqual(
    by('lldp').map((m) => m.identity?.hostname),
    tshark('lldp.tlv.system.name'),
  );
  assert.deepEqual(
    by('lldp').map((m) => m.identity?.ip),
    tshark('lldp.mgn.addr.ip4'),
  );
  assert.deepEqual(
    by('cdp').map((m) => m.identity?.hostname),
    tshark('cdp.deviceid'),
  );
  assert.deepEqual(
    by('cdp').map((m) => m.identity?.model),
    tshark('cdp.platform'),
  );
  assert.deepEqual(
    by('cdp').map((m) => m.identity?.ip),
    ['10.50.0.3'],
  );
  const dcp = by('profinet_dcp').filter((m) => m.identity);
  assert.deepEqual(
    dcp.map((m) => m.identity!.hostname),
    tshark('pn_dcp.suboption_device_nameofstation'),
  );
  assert.deepEqual(
    dcp.map((m) => m.identity!.product),
    tshark('pn_dcp.suboption_device_devicevendorvalue'),
  );
  assert.deepEqual(
    dcp.map((m) => m.identity!.ip),
    tshark('pn_dcp.suboption_ip_ip'),
  );
  assert.deepEqual(
    by('dhcp')
      .filter((m) => m.identity?.hostname)
      .map((m) => m.identity!.hostname),
    tshark('dhcp.option.hostname'),
  );
  assert.deepEqual(
    by('dhcp').map((m) => m.func),
    tshark('dhcp.option.dhcp').map(Number),
  );
  assert.equal(by('dhcp')[2]!.identity!.ip, '10.50.0.77');
  assert.equal(by('dhcp')[2]!.identity!.about, 'dst');
  assert.deepEqual(
    by('arp').map((m) => m.identity?.ip),
    tshark('arp.src.proto_ipv4'),
  );
  assert.deepEqual(
    by('arp').map((m) => m.fields?.gratuitous),
    [false, false, true],
  );
  assert.equal(
    by('nbns')[0]!.identity?.hostname,
    tshark('nbns.name')[0]!.split(',')[0]!.replace(/<00>$/, '').trim(),
  );
  assert.equal(by('dns')[0]!.identity?.hostname, 'hmi-2');
});
