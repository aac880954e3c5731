import { test } from 'node:test';
import assert from 'node:assert/strict';
import { modbus } from '../../src/dissect/protocols/modbus.js';
import { s7comm } from '../../src/dissect/protocols/s7comm.js';
import { dnp3Tcp } from '../../src/dissect/protocols/dnp3.js';
import { enipTcp } from '../../src/dissect/protocols/enip.js';
import { iec104 } from '../../src/dissect/protocols/iec104.js';
import type { StreamDissector } from '../../src/dissect/protocol.js';
import type { Message } from '../../src/dissect/message.js';
import { parsePolicy } from '../../src/policy/load.js';
import { CompiledPolicy, messageVerdict } from '../../src/policy/evaluate.js';
import {
  StreamInspector,
  type Action,
  type InspectorOptions,
} from '../../src/enforce/gateway/inspector.js';
import {
  cipRequest,
  class0,
  cotpData,
  crob,
  dnp3Request,
  enip,
  modbusRequest,
  registerSession,
  s7Job,
  s7PlcStop,
  s7WriteVar,
  sendRRData,
  u16,
} from '../helpers/ics-frames.js';

const POLICY = `weir: policy/1
zones:
  - { name: sup, members: [10.0.0.10, 10.0.0.40], mode: monitor }
  - { name: ctl, members: [10.0.0.21, 10.0.0.22, 10.0.0.23, 10.0.0.24, 10.0.0.25], mode: enforce }
conduits: [{ name: c, from: sup, to: ctl }]
groups:
  - { name: hmi, conduit: c, clients: [10.0.0.10], servers: [10.0.0.21], protocol: modbus,
      functions: [read_holding_registers, write_single_register], addresses: { holding_register: [0-99] }, access: read-write }
  - { name: hist-modbus, conduit: c, clients: [10.0.0.40], servers: [10.0.0.21], protocol: modbus }
  - { name: hist-s7, conduit: c, clients: [10.0.0.40], servers: [10.0.0.22], protocol: s7comm }
  - { name: hist-dnp3, conduit: c, clients: [10.0.0.40], servers: [10.0.0.23], protocol: dnp3 }
  - { name: hist-enip, conduit: c, clients: [10.0.0.40], servers: [10.0.0.24], protocol: enip }
  - { name: hist-104, conduit: c, clients: [10.0.0.40], servers: [10.0.0.25], protocol: iec104 }
`;

const loaded = parsePolicy(POLICY, 'p.yaml');
if (!loaded.ok) throw new Error(`test policy invalid: ${JSON.stringify(loaded.errors)}`);
const cp = new CompiledPolicy(loaded.policy);
const SERVERS: Record<string, [string, number]> = {
  modbus: ['10.0.0.21', 502],
  s7comm: ['10.0.0.22', 102],
  dnp3: ['10.0.0.23', 20000],
  enip: ['10.0.0.24', 44818],
  iec104: ['10.0.0.25', 2404],
};

function inspector(
  d: StreamDissector = modbus,
  client = '10.0.0.10',
  opts: Partial<InspectorOptions> = {},
): StreamInspector {
  const [server, port] = SERVERS[d.protocol]!;
  return new StreamInspector(
    d,
    cp.rules(client, server, 'tcp', port),
    {
      frame: 0,
      ts: 0,
      transport: 'tcp',
      srcMac: '',
      dstMac: '',
      srcIp: client,
      dstIp: server,
      srcPort: 40000,
      dstPort: port,
    },
    { deny: 'exception', budgetMicros: 1e6, ...opts },
  );
}
const historian = (d: StreamDissector, opts: Partial<InspectorOptions> = {}): StreamInspector =>
  inspector(d, '10.0.0.40', opts);

function req(tx: number, fc: number, a: number, b: number): Uint8Array {
  return modbusRequest(tx, fc, [...u16(a), ...u16(b)]);
}

const forwarded = (as: Action[]): number[] =>
  as.flatMap((a) => (a.kind === 'forward' ? [...a.bytes] : []));
const kinds = (as: Action[]): string[] => as.map((a) => a.kind);
const cat = (...parts: Array<Uint8Array | number[]>): Uint8Array =>
  Uint8Array.from(parts.flatMap((p) => [...p]));

test('allowed requests pass byte for byte; refused ones get the Modbus exception that fits', () => {
  const ins = inspector();
  const read = req(1, 3, 0, 10),
    write = req(2, 6, 50, 7),
    badAddr = req(3, 6, 500, 1),
    badFn = modbusRequest(4, 16, [0, 0, 0, 1, 2, 0, 7]);
  const acts = ins.push(cat(read, write, badAddr, badFn));
  assert.deepEqual(kinds(acts), ['forward', 'forward', 'reply', 'reply']);
  assert.deepEqual(forwarded(acts), [...read, ...write]);
  const [r3, r4] = acts.filter((a) => a.kind === 'reply') as Array<
    Extract<Action, { kind: 'reply' }>
  >;
  assert.deepEqual(
    [...r3!.bytes],
    [0, 3, 0, 0, 0, 3, 1, 0x86, 0x02],
    'Illegal Data Address, same transaction',
  );
  assert.deepEqual([...r4!.bytes], [0, 4, 0, 0, 0, 3, 1, 0x90, 0x01], 'Illegal Function');
  assert.deepEqual(
    ins.events.map((e) => e.reason),
    ['address_not_allowed', 'function_not_allowed'],
  );
});

test('drop mode drops refused requests; PDUs split across reads are reassembled', () => {
  const ins = inspector(modbus, '10.0.0.10', { deny: 'drop' });
  const all = cat(req(1, 3, 0, 2), modbusRequest(2, 16, [0, 0, 0, 1, 2, 0, 7]), req(3, 3, 1, 1));
  const acts: Action[] = [];
  for (let i = 0; i < all.length; i += 5) acts.push(...ins.push(all.subarray(i, i + 5)));
  assert.deepEqual(kinds(acts), ['forward', 'drop', 'forward']);
});

test('a refused request is never forwarded, however long inspection takes; only our own exception fails open', () => {
  // Budget overrun (item 4): the verdict holds, the overrun is only reported.
  const slow = historian(modbus, { budgetMicros: 0 });
  const acts = slow.push(cat(req(1, 3, 0, 2), req(2, 6, 5, 99)));
  assert.deepEqual(kinds(acts), ['forward', 'reply']);
  assert.ok(slow.events.some((e) => e.kind === 'slow'));
  // An exception inside inspection is Weir's fault: the PDU passes and the event says so.
  const faulty = inspector(modbus, '10.0.0.10', {
    fault: () => {
      throw new Error('boom');
    },
  });
  assert.deepEqual(kinds(faulty.push(req(9, 16, 0, 1))), ['forward']);
  assert.match(faulty.events[0]!.reason, /inspection failed: boom/);
});

test('a fault in framing never forwards what was already refused; the unjudged rest fails open, then the connection ends', () => {
  // A dissector whose framing throws on the third PDU (Weir's own fault, as no input found so far makes it).
  let calls = 0;
  const broken: StreamDissector = {
    ...modbus,
    pduLength: (b, o, n) => {
      if (++calls === 3) throw new Error('framing bug');
      return modbus.pduLength(b, o, n);
    },
  };
  const ins = inspector(broken, '10.0.0.10', { deny: 'drop' });
  const read = req(1, 3, 0, 2),
    refused = req(2, 6, 500, 1),
    after = req(3, 6, 501, 1);
  const acts = ins.push(cat(read, refused, after));
  assert.deepEqual(kinds(acts), ['forward', 'drop', 'forward', 'close']);
  // The refused write never passes; only the bytes nobody could judge go on, and say so.
  assert.deepEqual(forwarded(acts), [...read, ...after]);
  assert.ok(ins.events.some((e) => e.kind === 'fail_open' && /framing bug/.test(e.reason)));
  assert.deepEqual(
    ins.push(req(4, 3, 0, 1)),
    [],
    'nothing more is judged or passed on this connection',
  );
});

test('a framing fault passes held fragments nobody judged, once, with the bytes after them', () => {
  let calls = 0;
  const broken: StreamDissector = {
    ...s7comm,
    pduLength: (b, o, n) => {
      if (++calls === 2) throw new Error('framing bug');
      return s7comm.pduLength(b, o, n);
    },
  };
  const ins = historian(broken);
  const job = s7Job(1, [0xf0, 0, 0, 1, 0, 1, 0x01, 0xe0]);
  const first = cotpData(job.slice(0, 6), { eot: false }),
    second = cotpData(job.slice(6));
  assert.deepEqual(ins.push(first), [], 'a fragment waits for the rest of its unit');
  const acts = ins.push(second);
  assert.deepEqual(kinds(acts), ['forward', 'close']);
  assert.deepEqual(forwarded(acts), [...first, ...second]);
});

/** Framing bypasses (item 2): hostile framing first, then a write the historian may not make; nothing after the junk passes. */
const BYPASSES: Array<{ name: string; d: StreamDissector; junk: Uint8Array; write: Uint8Array }> = [
  {
    name: 'Modbus MBAP protocol id ≠ 0',
    d: modbus,
    junk: modbusRequest(1, 3, [0, 0, 0, 1], { protocol: 1 }),
    write: req(2, 6, 5, 99),
  },
  {
    name: 'Modbus MBAP length < 2',
    d: modbus,
    junk: modbusRequest(1, 3, [], { length: 1 }),
    write: req(2, 6, 5, 99),
  },
  {
    name: 'one junk byte before a DNP3 frame',
    d: dnp3Tcp,
    junk: Uint8Array.from([0x00]),
    write: dnp3Request(5, crob(0)),
  },
  {
    name: 'unknown ENIP command before a CIP request',
    d: enipTcp,
    junk: enip(0x30, 0, [1, 2, 3, 4]),
    write: sendRRData(1, cipRequest(0x10, 0x01, 1, 7, [1])),
  },
  {
    name: 'TPKT version ≠ 3',
    d: s7comm,
    junk: cotpData(s7Job(1, [0xf0, 0, 0, 1, 0, 1, 0x01, 0xe0]), { version: 2 }),
    write: cotpData(s7WriteVar(2, 1, 8, [99])),
  },
];

for (const b of BYPASSES) {
  test(`framing bypass refused: ${b.name}`, () => {
    const ins = historian(b.d);
    const acts = ins.push(cat(b.junk, b.write));
    assert.equal(acts.at(-1)!.kind, 'close', JSON.stringify(kinds(acts)));
    assert.deepEqual(forwarded(acts), [], 'nothing reaches the server');
    assert.deepEqual(ins.push(b.write), [], 'the connection stays refused');
    assert.ok(ins.events.some((e) => e.kind === 'refused'));
  });
}

test('the writes themselves are refused to the read-only historian on every protocol', () => {
  const cases: Array<[StreamDissector, Uint8Array[], Uint8Array]> = [
    [dnp3Tcp, [], dnp3Request(5, crob(0))],
    [enipTcp, [registerSession()], sendRRData(1, cipRequest(0x10, 0x01, 1, 7, [1]))],
    [s7comm, [], cotpData(s7WriteVar(2, 1, 8, [99]))],
    [s7comm, [], cotpData(s7PlcStop(3))],
  ];
  for (const [d, setup, write] of cases) {
    const ins = historian(d);
    for (const s of setup)
      assert.deepEqual(kinds(ins.push(s)), ['forward'], `${d.protocol} session set-up passes`);
    const acts = ins.push(write);
    assert.ok(
      acts.every((a) => a.kind !== 'forward'),
      `${d.protocol}: ${JSON.stringify(kinds(acts))}`,
    );
  }
  // Reads pass on the same read-only groups.
  assert.deepEqual(kinds(historian(dnp3Tcp).push(dnp3Request(1, class0))), ['forward']);
  assert.deepEqual(kinds(historian(enipTcp).push(sendRRData(1, cipRequest(0x0e, 0x01, 1, 7)))), [
    'forward',
  ]);
});

test('IEC 104 through the gateway: link upkeep and interrogation pass a read-only group, commands do not', () => {
  const ins = historian(iec104);
  const startdt = [0x68, 4, 0x07, 0, 0, 0],
    testfrCon = [0x68, 4, 0x83, 0, 0, 0];
  const interrogation = [0x68, 14, 0, 0, 0, 0, 100, 1, 6, 0, 1, 0, 0, 0, 0, 20];
  const singleCommand = [0x68, 14, 2, 0, 0, 0, 45, 1, 6, 0, 1, 0, 1, 0, 0, 1];
  assert.deepEqual(kinds(ins.push(cat(startdt, testfrCon, interrogation))), [
    'forward',
    'forward',
    'forward',
  ]);
  const acts = ins.push(Uint8Array.from(singleCommand));
  assert.deepEqual(kinds(acts), ['close'], 'a single command (C_SC_NA_1) is a control request');
  assert.equal(ins.events.at(-1)!.reason, 'write_not_allowed');
  // A monitor-direction ASDU sent by the controlling station is nothing a real client sends.
  assert.equal(
    historian(iec104)
      .push(Uint8Array.from([0x68, 14, 0, 0, 0, 0, 1, 1, 3, 0, 1, 0, 1, 0, 0, 1]))
      .at(-1)!.kind,
    'close',
  );
});

test('IEC 104: a refused command closes the connection at once, never leaves a hole in the send sequence (review 14, L6)', () => {
  // Every I-frame carries N(S): dropping command k alone makes the station see k+1 out of sequence and the
  // client's t1 kill the link ~15 s later, untied to the refusal. Frames before it pass; nothing after it does.
  const startdt = [0x68, 4, 0x07, 0, 0, 0];
  const gi = (ns: number): number[] => [
    0x68,
    14,
    ns << 1,
    0,
    0,
    0,
    100,
    1,
    6,
    0,
    1,
    0,
    0,
    0,
    0,
    20,
  ];
  const command = [0x68, 14, 2, 0, 0, 0, 45, 1, 6, 0, 1, 0, 0x10, 0x27, 0, 1];
  for (const deny of ['drop', 'exception'] as const) {
    const ins = historian(iec104, { deny });
    const acts = ins.push(cat(startdt, gi(0), command, gi(2)));
    assert.deepEqual(kinds(acts), ['forward', 'forward', 'close'], deny);
    assert.deepEqual(forwarded(acts), [...startdt, ...gi(0)]);
    const denied = ins.events.filter((e) => e.kind === 'denied');
    assert.deepEqual(
      denied.map((e) => [e.reason, e.message?.funcName]),
      [['write_not_allowed', 'C_SC_NA_1']],
      'the refusal is logged with the command',
    );
    assert.deepEqual(ins.push(Uint8Array.from(gi(2))), [], 'nothing passes a closed connection');
  }
});

test('read-only is an allow-list: UMAS writes, MEI 13 and unknown function codes are refused (item 7)', () => {
  for (const [name, pdu] of [
    ['UMAS 0x21 write memory block', modbusRequest(1, 90, [0x00, 0x21, 1, 2, 3])],
    ['UMAS 0x23 write variables', modbusRequest(2, 90, [0x00, 0x23, 1, 2, 3])],
    ['FC 43 / MEI 13', modbusRequest(3, 43, [13, 0, 0, 0])],
    ['FC 126', modbusRequest(4, 126, [0, 0])],
  ] as const) {
    const acts = historian(modbus).push(pdu);
    assert.ok(
      acts.length === 1 && acts[0]!.kind !== 'forward',
      `${name}: ${JSON.stringify(kinds(acts))}`,
    );
  }
  assert.deepEqual(
    kinds(historian(modbus).push(modbusRequest(5, 43, [14, 1, 0]))),
    ['forward'],
    'device identification is a read',
  );
  assert.deepEqual(
    kinds(historian(modbus).push(modbusRequest(6, 90, [0x00, 0x22, 1, 2]))),
    ['forward'],
    'UMAS read variables is a read',
  );
});

test('malformed requests and responses sent by a client close the connection', () => {
  const short = historian(modbus).push(modbusRequest(1, 3, [0]));
  assert.equal(short.at(-1)!.kind, 'close');
  const response = historian(modbus);
  const asResponse = historian(s7comm).push(
    cotpData([0x32, 0x03, 0, 0, 0, 1, 0, 2, 0, 0, 0, 0, 0x04, 0x01]),
  );
  assert.equal(asResponse.at(-1)!.kind, 'close', 'an S7 ACK_DATA from a client is not a request');
  assert.deepEqual(kinds(response.push(req(1, 3, 0, 1))), ['forward']);
});

test('a Modbus read whose MBAP length also covers a whole write is refused, not forwarded as a read (review 12, L8)', () => {
  // A server that frames by the function's own length would take the tail for its next request.
  const write = modbusRequest(2, 6, [0, 5, 0, 99]);
  const read = [0, 0, 0, 10];
  const smuggled = modbusRequest(1, 3, [...read, ...write], {
    length: 2 + read.length + write.length,
  });
  const h = historian(modbus);
  const out = h.push(smuggled);
  assert.deepEqual(forwarded(out), [], 'nothing of it reaches the PLC');
  assert.equal(out.at(-1)!.kind, 'close');
  assert.match(h.events.map((e) => e.reason).join(','), /malformed/);
  // A read of exactly its layout still passes.
  assert.deepEqual(kinds(historian(modbus).push(req(3, 3, 0, 10))), ['forward']);
});

test('fragmented S7 jobs are judged whole: held until the last fragment, never forwarded piecemeal (item 3)', () => {
  const job = s7WriteVar(7, 1, 8, [99]);
  const ins = historian(s7comm);
  const acts = [
    ...ins.push(cotpData(job.slice(0, 10), { eot: false })),
    ...ins.push(cotpData(job.slice(10))),
  ];
  assert.deepEqual(forwarded(acts), [], JSON.stringify(kinds(acts)));
  const read = s7Job(8, [0x04, 0x01, 0x12, 0x0a, 0x10, 0x02, 0, 4, 0, 1, 0x84, 0, 0, 0]);
  const ok = historian(s7comm);
  const parts = [
    ...ok.push(cotpData(read.slice(0, 12), { eot: false })),
    ...ok.push(cotpData(read.slice(12))),
  ];
  assert.equal(
    forwarded(parts).length,
    cotpData(read.slice(0, 12), { eot: false }).length + cotpData(read.slice(12)).length,
    'an allowed fragmented read passes whole',
  );
});

test('COTP connection set-up passes; a data TPDU that carries no S7 is refused', () => {
  const cr = Uint8Array.from([
    3, 0, 0, 22, 17, 0xe0, 0, 0, 0, 1, 0, 0xc1, 2, 1, 0, 0xc2, 2, 1, 2, 0xc0, 1, 0x0a,
  ]);
  const ins = historian(s7comm);
  assert.deepEqual(kinds(ins.push(cr)), ['forward']);
  assert.equal(ins.push(cotpData([0x55, 1, 2, 3])).at(-1)!.kind, 'close');
});

test('fuzz: whatever a client sends, every forwarded unit is one the policy allows', () => {
  let seed = 7;
  const rnd = (): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
  const rulesOf = new Map(
    ['modbus', 's7comm', 'dnp3', 'enip'].map((p) => [
      p,
      cp.rules('10.0.0.40', SERVERS[p]![0], 'tcp', SERVERS[p]![1]),
    ]),
  );
  const gens: Array<[StreamDissector, () => Uint8Array]> = [
    [
      modbus,
      () =>
        req(
          Math.floor(rnd() * 65535),
          Math.floor(rnd() * 130),
          Math.floor(rnd() * 300),
          Math.floor(rnd() * 200),
        ),
    ],
    [
      dnp3Tcp,
      () => dnp3Request(Math.floor(rnd() * 35), rnd() < 0.5 ? class0 : crob(Math.floor(rnd() * 5))),
    ],
    [
      enipTcp,
      () =>
        sendRRData(
          1,
          cipRequest(Math.floor(rnd() * 0x60), Math.floor(rnd() * 8), 1, Math.floor(rnd() * 8)),
        ),
    ],
    [
      s7comm,
      () =>
        cotpData(rnd() < 0.5 ? s7WriteVar(1, 1, 0, [1]) : s7Job(1, [Math.floor(rnd() * 256), 1]), {
          eot: rnd() < 0.8,
        }),
    ],
  ];
  for (let round = 0; round < 400; round++) {
    const [d, gen] = gens[round % gens.length]!;
    const ins = historian(d, { deny: round % 2 ? 'drop' : 'exception' });
    for (let k = 0; k < 20; k++) {
      let chunk = gen();
      if (rnd() < 0.2)
        chunk = Uint8Array.from(chunk, (x) => (rnd() < 0.05 ? Math.floor(rnd() * 256) : x));
      if (rnd() < 0.05)
        chunk = Uint8Array.from({ length: 1 + Math.floor(rnd() * 40) }, () =>
          Math.floor(rnd() * 256),
        );
      for (const a of ins.push(chunk)) {
        if (a.kind !== 'forward') continue;
        // Re-judge what went out, as a fresh reader would: every request in it is allowed.
        const msgs: Message[] = [];
        const state = {};
        for (let off = 0; off < a.bytes.length; ) {
          const len = d.pduLength(a.bytes, off, a.bytes.length - off);
          assert.ok(
            len > 0 && off + len <= a.bytes.length,
            `round ${round}: a forwarded unit frames cleanly`,
          );
          d.dissect(
            a.bytes,
            off,
            len,
            {
              frame: 1,
              ts: 0,
              transport: 'tcp',
              srcMac: '',
              dstMac: '',
              srcIp: '10.0.0.40',
              dstIp: SERVERS[d.protocol]![0],
              srcPort: 1,
              dstPort: SERVERS[d.protocol]![1],
            },
            true,
            msgs,
            state,
          );
          off += len;
        }
        for (const m of msgs)
          assert.equal(
            typeof messageVerdict(rulesOf.get(d.protocol)!, m) === 'string',
            false,
            `round ${round}: forwarded ${m.protocol} ${m.funcName} ${m.anomaly?.detail ?? ''}`,
          );
      }
    }
  }
});

test('judging in time slices: a push stops at its slice, the rest waits unjudged and later pushes go on, same verdicts', () => {
  const pdus = [req(1, 3, 0, 10), req(2, 6, 50, 7), req(3, 6, 500, 1), req(4, 3, 5, 1)];
  const whole = inspector().push(cat(...pdus));
  const ins = inspector();
  assert.deepEqual(
    ins.push(cat(...pdus), 0),
    [],
    'no time left: nothing judged, nothing forwarded',
  );
  assert.equal(ins.backlog, true);
  const sliced: Action[] = [];
  for (let i = 0; i < 10 && (i === 0 || ins.backlog); i++) {
    const out = ins.push(new Uint8Array(0), 1e-6);
    assert.ok(out.length <= 1, 'a slice judges at least one PDU, here no more');
    sliced.push(...out);
  }
  assert.equal(ins.backlog, false);
  assert.deepEqual(kinds(sliced), kinds(whole));
  assert.deepEqual(forwarded(sliced), forwarded(whole));
  assert.ok(ins.spentMicros > 0, 'the inspection time is counted, for the throttle');
});
