import { test } from 'node:test';
import assert from 'node:assert/strict';
import { modbus } from '../../src/dissect/protocols/modbus.js';
import { parsePolicy } from '../../src/policy/load.js';
import { CompiledPolicy } from '../../src/policy/evaluate.js';
import { StreamInspector, type Action, type InspectorOptions } from '../../src/enforce/gateway/inspector.js';

const POLICY = `weir: policy/1
zones:
  - { name: sup, members: [10.0.0.10], mode: monitor }
  - { name: ctl, members: [10.0.0.21], mode: enforce }
conduits: [{ name: c, from: sup, to: ctl }]
groups:
  - { name: hmi, conduit: c, clients: [10.0.0.10], servers: [10.0.0.21], protocol: modbus,
      functions: [read_holding_registers, write_single_register], addresses: { holding_register: [0-99] }, access: read-write }
`;

const loaded = parsePolicy(POLICY, 'p.yaml');
if (!loaded.ok) throw new Error('test policy invalid');
const cp = new CompiledPolicy(loaded.policy);
const rules = cp.rules('10.0.0.10', '10.0.0.21', 'tcp', 502);

function inspector(opts: Partial<InspectorOptions> = {}): StreamInspector {
  return new StreamInspector(modbus, rules, { frame: 0, ts: 0, transport: 'tcp', srcMac: '', dstMac: '', srcIp: '10.0.0.10', dstIp: '10.0.0.21', srcPort: 40000, dstPort: 502 },
    { deny: 'exception', budgetMicros: 1e6, ...opts });
}

/** A Modbus/TCP request: MBAP (tx, proto 0, length, unit 1) + function + two 16-bit fields. */
function req(tx: number, fc: number, a: number, b: number): Uint8Array {
  return Uint8Array.from([tx >> 8, tx & 255, 0, 0, 0, 6, 1, fc, a >> 8, a & 255, b >> 8, b & 255]);
}

const bytesOf = (as: Action[], kind: Action['kind']): number[] => as.filter((a) => a.kind === kind).flatMap((a) => [...(a.kind === 'drop' ? a.pdu : a.bytes)]);

test('allowed requests pass byte for byte; refused ones get the Modbus exception that fits', () => {
  const ins = inspector();
  const read = req(1, 3, 0, 10), write = req(2, 6, 50, 7), badAddr = req(3, 6, 500, 1), badFn = req(4, 16, 0, 1);
  const acts = ins.push(Uint8Array.from([...read, ...write, ...badAddr, ...badFn]));
  assert.deepEqual(acts.map((a) => a.kind), ['forward', 'forward', 'reply', 'reply']);
  assert.deepEqual(bytesOf(acts, 'forward'), [...read, ...write]);
  const [r3, r4] = acts.filter((a) => a.kind === 'reply') as Array<Extract<Action, { kind: 'reply' }>>;
  assert.deepEqual([...r3!.bytes], [0, 3, 0, 0, 0, 3, 1, 0x86, 0x02], 'Illegal Data Address, same transaction');
  assert.deepEqual([...r4!.bytes], [0, 4, 0, 0, 0, 3, 1, 0x90, 0x01], 'Illegal Function');
  assert.deepEqual(ins.events.map((e) => e.reason), ['address_not_allowed', 'function_not_allowed']);
});

test('drop mode drops refused requests; PDUs split across reads are reassembled', () => {
  const ins = inspector({ deny: 'drop' });
  const all = Uint8Array.from([...req(1, 3, 0, 2), ...req(2, 16, 0, 1), ...req(3, 3, 1, 1)]);
  const acts: Action[] = [];
  for (let i = 0; i < all.length; i += 5) acts.push(...ins.push(all.subarray(i, i + 5)));
  assert.deepEqual(acts.map((a) => a.kind), ['forward', 'drop', 'forward']);
});

test('inspection faults, overruns and foreign bytes fail open: the bytes go through and the event is kept', () => {
  const faulty = inspector({ fault: () => { throw new Error('boom'); } });
  const w = req(9, 16, 0, 1);
  assert.deepEqual(faulty.push(w).map((a) => a.kind), ['forward']);
  assert.match(faulty.events[0]!.reason, /inspection failed: boom/);
  const slow = inspector({ budgetMicros: 0 });
  assert.deepEqual(slow.push(w).map((a) => a.kind), ['forward']);
  assert.match(slow.events[0]!.reason, /budget 0 µs/);
  const foreign = inspector();
  const junk = Uint8Array.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03, 0x00]); // a TLS hello, not Modbus
  assert.deepEqual(bytesOf(foreign.push(junk), 'forward'), [...junk]);
  assert.deepEqual(foreign.push(w).map((a) => a.kind), ['forward'], 'the connection now passes through');
});

test('fuzz: random streams never throw and every byte is forwarded, refused as part of a PDU, or still pending', () => {
  let seed = 7;
  const rnd = (): number => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed / 0x7fffffff; };
  for (let round = 0; round < 300; round++) {
    const ins = inspector({ deny: round % 2 ? 'drop' : 'exception' });
    let fed = 0, out = 0;
    for (let k = 0; k < 20; k++) {
      // Mostly well-formed requests with random fields, sometimes raw noise.
      const chunk = rnd() < 0.8 ? req(k, Math.floor(rnd() * 30), Math.floor(rnd() * 300), Math.floor(rnd() * 200)) : Uint8Array.from({ length: 1 + Math.floor(rnd() * 40) }, () => Math.floor(rnd() * 256));
      fed += chunk.length;
      for (const a of ins.push(chunk)) out += a.kind === 'forward' ? a.bytes.length : a.pdu.length;
    }
    assert.ok(out <= fed && fed - out < (1 << 20) + 300, `round ${round}: ${fed} in, ${out} accounted`);
  }
});
