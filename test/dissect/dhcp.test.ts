// DHCP and plain BOOTP: a BOOTP message (no option 53, RFC 2132 §9.6) has no DHCP message type, so Weir reports
// no function code for it, yet keeps the address assignment it carries (RFC 951: yiaddr in a BOOTREPLY).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readCaptureSync } from '../../src/capture/source.js';
import { DissectPipeline } from '../../src/dissect/pipeline.js';
import type { Message } from '../../src/dissect/message.js';
import { sharedCapture } from '../helpers/paths.js';

test('the BOOTP exchange of the ITI IP-address-change capture: no DHCP message type, the assignment kept', (t) => {
  const file = sharedCapture('iti/openics__EIP-IPAddressChangeAttempt.pcap');
  if (file === null) {
    t.skip('shared capture missing');
    return;
  }
  const ours: Message[] = [];
  const p = new DissectPipeline({
    onMessage: (m) => {
      if (m.protocol === 'dhcp') ours.push(structuredClone(m));
    },
  });
  readCaptureSync(file, (f) => p.push(f));
  assert.deepEqual(
    ours.map((m) => [m.frame, m.func, m.funcName, m.role, m.anomaly]),
    [
      [2945, 1, 'DISCOVER', 'request', null],
      [2946, 2, 'OFFER', 'response', null],
      [2947, 3, 'REQUEST', 'request', null],
      [2948, 5, 'ACK', 'response', null],
      [3358, -1, 'BOOTREQUEST', 'request', null],
      [3359, -1, 'BOOTREPLY', 'response', null],
    ],
  );
  assert.deepEqual(ours[4]!.identity, { mac: '00:00:bc:3e:eb:e4' });
  // The BOOTP server hands 192.168.10.120 and the name ConLgxEIP to the PLC: facts about the frame's destination.
  assert.deepEqual(ours[5]!.identity, {
    hostname: 'ConLgxEIP',
    mac: '00:00:bc:3e:eb:e4',
    ip: '192.168.10.120',
    about: 'dst',
  });
  // tshark: BOOTP op (dhcp.type) and the DHCP message type, absent from the two BOOTP frames.
  const rows = execFileSync(
    'tshark',
    [
      '-r',
      file,
      '-Y',
      'dhcp',
      '-T',
      'fields',
      '-e',
      'frame.number',
      '-e',
      'dhcp.type',
      '-e',
      'dhcp.option.dhcp',
    ],
    { stdio: ['ignore', 'pipe', 'ignore'] },
  )
    .toString()
    .replace(/\n$/, '')
    .split('\n');
  assert.deepEqual(
    rows,
    ours.map((m) => `${m.frame}\t${m.role === 'request' ? 1 : 2}\t${m.func < 0 ? '' : m.func}`),
  );
});
