// Modbus requests held to their layout at the gateway (review 14, L2 and L8): a client's function code with the
// exception bit is no request (a server that masks the bit would run an unjudged write), and a request whose
// MBAP length runs past its own layout carries a second request for a server that frames by the function code
// ("a write behind a read"): Read Device Identification, Read/Write File Record, Diagnostics, Read/Write Multiple.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { modbus } from '../../src/dissect/protocols/modbus.js';
import type { Message } from '../../src/dissect/message.js';
import { parsePolicy } from '../../src/policy/load.js';
import { CompiledPolicy } from '../../src/policy/evaluate.js';
import { StreamInspector } from '../../src/enforce/gateway/inspector.js';
import { pduContext } from '../helpers/pdu-context.js';

const loaded = parsePolicy(
  `weir: policy/1
zones:
  - { name: sup, members: [10.0.0.10, 10.0.0.11], mode: monitor }
  - { name: ctl, members: [10.0.0.21], mode: enforce }
conduits: [{ name: c, from: sup, to: ctl }]
groups:
  - { name: hmi, conduit: c, clients: [10.0.0.10], servers: [10.0.0.21], protocol: modbus, access: read-write,
      functions: [3, 16], addresses: { holding_register: ["0-9"] } }
  - { name: viewer, conduit: c, clients: [10.0.0.11], servers: [10.0.0.21], protocol: modbus,
      functions: [3, 8, 20, 43] }
`,
  'p.yaml',
);
if (!loaded.ok) throw new Error(JSON.stringify(loaded.errors));
const cp = new CompiledPolicy(loaded.policy);

/** Push one MBAP frame (unit 1) from the client; returns the actions and the events' reasons. */
function judge(client: string, pdu: number[]): { acts: string[]; reasons: string[] } {
  const ctx = pduContext({ srcIp: client, dstIp: '10.0.0.21', srcPort: 5000, dstPort: 502 });
  const ins = new StreamInspector(modbus, cp.rules(client, '10.0.0.21', 'tcp', 502), ctx, {
    deny: 'exception',
    budgetMicros: 1e6,
  });
  const frame = [0, 1, 0, 0, (pdu.length + 1) >> 8, (pdu.length + 1) & 255, 1, ...pdu];
  const acts = ins.push(Uint8Array.from(frame)).map((a) => a.kind);
  return { acts, reasons: ins.events.map((e) => e.reason) };
}

function request(pdu: number[]): Message {
  const out: Message[] = [];
  const b = Uint8Array.from([0, 1, 0, 0, (pdu.length + 1) >> 8, (pdu.length + 1) & 255, 1, ...pdu]);
  modbus.dissect(b, 0, b.length, pduContext(), true, out);
  return out[0]!;
}

/** FC 6, register 5 := 9: what a function-framing server would read after the first request. */
const WRITE = [0x06, 0x00, 0x05, 0x00, 0x09];

test('Modbus: a client function code with the exception bit is refused and closes the connection (L2)', () => {
  // FC 16 to register 100 is outside the list; with the exception bit (0x90) it named no address and passed.
  assert.deepEqual(judge('10.0.0.10', [0x10, 0, 100, 0, 1, 2, 0x12, 0x34]).reasons, [
    'address_not_allowed',
  ]);
  for (const fc of [0x90, 0x83, 0x86, 0xff]) {
    const { acts, reasons } = judge('10.0.0.10', [fc, 0, 100, 0, 1, 2, 0x12, 0x34]);
    assert.deepEqual(acts, ['close'], `0x${fc.toString(16)}`);
    assert.deepEqual(reasons, ['malformed_pdu'], `0x${fc.toString(16)}`);
  }
  const m = request([0x90, 0, 100, 0, 1, 2, 0x12, 0x34]);
  assert.equal(m.anomaly?.kind, 'exception_in_request');
  assert.equal(m.role, 'request');
  // A server's exception response is still one.
  const out: Message[] = [];
  modbus.dissect(Uint8Array.from([0, 1, 0, 0, 0, 3, 1, 0x90, 2]), 0, 9, pduContext(), false, out);
  assert.equal(out[0]!.anomaly, null);
  assert.equal(out[0]!.exception, 2);
});

test('Modbus: a write behind FC 43/14, FC 20/21, FC 8 or FC 23 is refused, the exact requests pass (L8)', () => {
  const exactOk: Array<[string, number[]]> = [
    ['FC 43/14 device id', [0x2b, 0x0e, 0x01, 0x00]],
    ['FC 20 one record', [0x14, 7, 6, 0, 4, 0, 1, 0, 2]],
    ['FC 20 two records', [0x14, 14, 6, 0, 4, 0, 1, 0, 2, 6, 0, 3, 0, 9, 0, 2]],
    ['FC 8 return diagnostic register', [0x08, 0, 2, 0, 0]],
    ['FC 8 return query data', [0x08, 0, 0, 0xa5, 0x37, 0x12, 0x34]],
    ['FC 3 read', [0x03, 0, 0, 0, 2]],
  ];
  for (const [name, pdu] of exactOk)
    assert.deepEqual(judge('10.0.0.11', pdu), { acts: ['forward'], reasons: [] }, name);
  const behind: Array<[string, number[]]> = [
    ['FC 3 read', [0x03, 0, 0, 0, 2, ...WRITE]],
    ['FC 43/14 device id', [0x2b, 0x0e, 0x01, 0x00, ...WRITE]],
    // The byte count covers one sub-request; the write follows it.
    ['FC 20 read file record', [0x14, 7, 6, 0, 4, 0, 1, 0, 2, ...WRITE]],
    // The byte count covers the write too, but no whole sub-request does.
    ['FC 20, count over the write', [0x14, 12, 6, 0, 4, 0, 1, 0, 2, ...WRITE]],
    ['FC 8 return diagnostic register', [0x08, 0, 2, 0, 0, ...WRITE]],
  ];
  for (const [name, pdu] of behind) {
    const { acts, reasons } = judge('10.0.0.11', pdu);
    assert.deepEqual(acts, ['close'], name);
    assert.deepEqual(reasons, ['malformed_pdu'], name);
  }
  // The dissector says why, for the passive path too.
  assert.equal(request([0x2b, 0x0e, 0x01, 0x00, ...WRITE]).anomaly?.kind, 'trailing_bytes');
  assert.equal(
    request([0x14, 7, 6, 0, 4, 0, 1, 0, 2, ...WRITE]).anomaly?.kind,
    'byte_count_mismatch',
  );
  assert.equal(request([0x14, 12, 6, 0, 4, 0, 1, 0, 2, ...WRITE]).anomaly?.kind, 'trailing_bytes');
  assert.equal(request([0x14, 7, 5, 0, 4, 0, 1, 0, 2]).anomaly?.kind, 'reference_type_invalid');
  // FC 21: the record's words are part of the sub-request; one word short or one sub-request long is refused.
  const write21 = [0x15, 9, 6, 0, 4, 0, 1, 0, 1, 0x12, 0x34];
  assert.equal(request(write21).anomaly, null);
  assert.deepEqual(request(write21).targets, [{ space: 'file_4', start: 1, count: 1 }]);
  assert.equal(
    request([0x15, 11, 6, 0, 4, 0, 1, 0, 2, 0x12, 0x34]).anomaly?.kind,
    'byte_count_mismatch',
  );
  assert.equal(
    request([0x15, 10, 6, 0, 4, 0, 1, 0, 1, 0x12, 0x34, 0]).anomaly?.kind,
    'trailing_bytes',
  );
  // FC 23: the write byte count must be the write quantity's words.
  const rw = [0x17, 0, 0, 0, 1, 0, 5, 0, 1, 2, 0, 9];
  assert.equal(request(rw).anomaly, null);
  const rwShort = [0x17, 0, 0, 0, 1, 0, 5, 0, 2, 2, 0, 9];
  assert.equal(request(rwShort).anomaly?.kind, 'byte_count_mismatch');
});
