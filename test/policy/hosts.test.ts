import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalIp, isUnicastHost } from '../../src/policy/hosts.js';

test('host addresses: one spelling for IPv6 (as nft lists it), hostile spellings refused', () => {
  assert.equal(canonicalIp('10.77.0.66'), '10.77.0.66');
  assert.equal(canonicalIp('FD00:77:0:0:0:0:0:66'), 'fd00:77::66');
  assert.equal(canonicalIp('fd00:0077::0066'), 'fd00:77::66');
  assert.equal(canonicalIp('2001:db8:0:0:1:0:0:1'), '2001:db8::1:0:0:1');
  for (const bad of [
    'fe80::1%eth0',
    '::ffff:10.77.0.66',
    'fd00::/64',
    '10.77.0.0/24',
    'fd00::66; flush ruleset',
    '[fd00::66]',
    '',
    'host.example',
  ])
    assert.equal(canonicalIp(bad), null, bad);
});

test('unicast hosts: what a playbook may block', () => {
  for (const ok of ['10.77.0.66', 'fd00:77::66', '2001:db8::1'])
    assert.equal(isUnicastHost(ok), true, ok);
  for (const no of [
    '0.0.0.0',
    '255.255.255.255',
    '127.0.0.1',
    '224.0.0.1',
    '::',
    '::1',
    'ff02::1',
    'fe80::1',
    'febf::1',
    'not an address',
  ])
    assert.equal(isUnicastHost(no), false, no);
});
