// The engine's message path (issue 18, engpath round) sorts messages by what detectors need with remembered
// answers per edge (the function and protocol a known poll repeats) and per route (which detectors a plain
// request reaches, whether any placed detector wants a message without learned values). An attacker who warms
// those answers with thousands of learned polls and then interleaves unlearned functions, writes, operations,
// out-of-range values, refusals, new protocols and anomalies, flipping the edge between its learned and unlearned
// states, must reach every detector exactly as the documented interests say: each message is checked here against
// a reference computed from the message and the edge's profile alone (no remembered answer).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Message, ProtocolName } from '../../src/dissect/message.js';
import { functionKeyNumber, isIndustrial } from '../../src/dissect/registry.js';
import { DetectionEngine } from '../../src/detect/engine.js';
import type { DetectContext, Detector, MessageInterest } from '../../src/detect/detector.js';
import { operationOf } from '../../src/detect/detectors/engineering-ops.js';
import { Inventory } from '../../src/discover/inventory.js';
import { Stages } from '../../src/dissect/stage.js';
import { feed, msg, tcp, udp, HMI, PLC, EVIL, learn } from './synthetic.js';

const INTERESTS: MessageInterest[] = [
  'all',
  'requests',
  'operations',
  'new-functions',
  'writes',
  'refusals',
  'new-protocols',
  'arp',
  'anomalies',
  'placed',
  'placed-learned',
];

/** The interests a message meets, from the message and its edge's profile only (the engine's documented rules). */
function expected(m: Message, ctx: DetectContext): Set<MessageInterest> {
  const out = new Set<MessageInterest>(['all']);
  const e = ctx.edge;
  const p = e?.profile ?? null;
  if (m.role === 'response' && m.exception > 0) out.add('refusals');
  if (m.role !== 'response') {
    out.add('requests');
    const op = operationOf(m, functionKeyNumber(m.protocol, m.func));
    if (op !== undefined) out.add('operations');
    else {
      if (
        e !== undefined &&
        m.func >= 0 &&
        isIndustrial(m.protocol) &&
        (p === null || !p.functions.has(functionKeyNumber(m.protocol, m.func)))
      )
        out.add('new-functions');
      if (m.write && m.targets !== null) out.add('writes');
    }
    if (p !== null && m.transport !== 'l2' && !p.protocols.has(m.protocol))
      out.add('new-protocols');
  }
  if (m.values !== null || m.targets !== null) {
    out.add('placed');
    if (p !== null && p.hasValues) out.add('placed-learned');
  }
  if (m.anomaly !== null) out.add('anomalies');
  if (m.protocol === 'arp') out.add('arp');
  return out;
}

/** The order the engine calls detectors in: the all pass, the request pass, the placed pass, anomalies, ARP. */
const PASS: Record<MessageInterest, number> = {
  all: 0,
  refusals: 0,
  requests: 1,
  operations: 1,
  'new-functions': 1,
  writes: 1,
  'new-protocols': 1,
  placed: 2,
  'placed-learned': 2,
  anomalies: 3,
  arp: 4,
};

function run(
  steps: (send: Sender) => void,
  shared = false,
): { want: string[]; got: string[]; checked: number } {
  const want: string[] = [];
  const got: string[] = [];
  let checked = 0;
  // Two spies of every interest, in a shuffled order, so the order within each pass is checked too.
  const order = [...INTERESTS, ...INTERESTS].reverse();
  const spies: Detector[] = order.map((interest, i) => ({
    name: `${interest}#${i}`,
    messages: interest,
    onMessage(m: Message) {
      got.push(`${m.frame}:${m.protocol}:${m.func}:${interest}#${i}`);
    },
  }));
  const referee: Detector = {
    name: 'referee',
    messages: 'all',
    onMessage(m: Message, ctx: DetectContext) {
      checked++;
      const kinds = expected(m, ctx);
      const calls = spies
        .map((d, i) => ({ d, i }))
        .filter(({ d }) => kinds.has(d.messages!))
        .sort((a, b) => PASS[a.d.messages!] - PASS[b.d.messages!] || a.i - b.i);
      for (const { d } of calls)
        want.push(`${m.frame}:${m.protocol}:${m.func}:${d.messages}#${spies.indexOf(d)}`);
    },
  };
  // The referee first: it is in the all pass, which runs first, and it logs before any spy of that message.
  // With an inventory, the engine reads the inventory's edges (and settles learned ones: its packet fast path).
  const inv = shared ? new Inventory() : undefined;
  const eng = new DetectionEngine(learn(), { detectors: [referee, ...spies], inventory: inv });
  const both = inv === undefined ? eng : new Stages([inv, eng]);
  steps((pkt, protocol, set) => feed(both, pkt, msg(pkt, protocol, set)));
  eng.finish();
  return { want, got, checked };
}

type Sender = (pkt: ReturnType<typeof tcp>, protocol: ProtocolName, set: Partial<Message>) => void;

/** A small deterministic generator (the test must fail the same way every time). */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const POLL: Partial<Message> = {
  role: 'request',
  func: 3,
  funcName: 'READ_HOLDING_REGISTERS',
  unit: 1,
  targets: [{ space: 'holding_register', start: 0, count: 10 }],
};

for (const shared of [false, true])
  test(`after thousands of learned polls, every hostile message reaches exactly the detectors its kind names (${shared ? "the inventory's edges" : 'own edge table'})`, () => {
    const r = run((send) => {
      let ts = 5000;
      const rnd = lcg(18);
      const toPlc = (): ReturnType<typeof tcp> => tcp((ts += 0.01), HMI, 40000, PLC, 502);
      const fromPlc = (): ReturnType<typeof tcp> => tcp((ts += 0.001), PLC, 502, HMI, 40000);
      // The attacks, each after a long warm run of the learned poll and its answer on the same edge.
      const attacks: ((i: number) => void)[] = [
        // A write to a register never written, with a learned and an unlearned function.
        () =>
          send(toPlc(), 'modbus', {
            role: 'request',
            func: 6,
            write: true,
            targets: [{ space: 'holding_register', start: 400, count: 1 }],
            values: [1],
          }),
        () =>
          send(toPlc(), 'modbus', {
            role: 'request',
            func: 16,
            write: true,
            targets: [{ space: 'holding_register', start: 0, count: 2 }],
            values: [1, 2],
          }),
        // An unlearned function, twice in a row, then the learned one, then the unlearned one again (the edge's
        // remembered function flips back and forth).
        () => {
          send(toPlc(), 'modbus', { role: 'request', func: 4, unit: 1 });
          send(toPlc(), 'modbus', { role: 'request', func: 4, unit: 1 });
          send(toPlc(), 'modbus', POLL);
          send(toPlc(), 'modbus', { role: 'request', func: 4, unit: 1 });
        },
        // An engineering operation by function code (diagnostics).
        () => send(toPlc(), 'modbus', { role: 'request', func: 8, subfunc: 1, unit: 1 }),
        // A value out of the learned range, and a refusal.
        () =>
          send(fromPlc(), 'modbus', {
            role: 'response',
            func: 3,
            values: [1, 2, 3, 4, 5, 6, 7, 8, 9, 99999],
          }),
        () => send(fromPlc(), 'modbus', { role: 'response', func: 16, exception: 2 }),
        // Another protocol on the learned edge (its profile knows only Modbus), then Modbus again.
        () => {
          send(toPlc(), 's7comm', { role: 'request', func: 4 });
          send(toPlc(), 'modbus', POLL);
          send(toPlc(), 's7comm', { role: 'request', func: 4 });
        },
        // A malformed request.
        () =>
          send(toPlc(), 'modbus', {
            role: 'request',
            func: 3,
            anomaly: { kind: 'bad_length', detail: 'x' },
          }),
        // The same poll from an unlearned client (an edge without a profile), then the learned client again.
        () => {
          send(tcp((ts += 0.01), EVIL, 40001, PLC, 502), 'modbus', POLL);
          send(toPlc(), 'modbus', POLL);
          send(tcp((ts += 0.01), EVIL, 40001, PLC, 502), 'modbus', {
            role: 'request',
            func: 6,
            write: true,
            targets: [{ space: 'holding_register', start: 100, count: 1 }],
          });
        },
        // BACnet unconfirmed services and an I/O-style request without a function, on a UDP edge.
        () => {
          const q = (): ReturnType<typeof udp> => udp((ts += 0.01), HMI, 47808, PLC, 47808);
          send(q(), 'bacnet', { role: 'request', func: 12 });
          send(q(), 'bacnet', { role: 'unsolicited', func: 256 + 20 });
          send(q(), 'bacnet', { role: 'request', func: 20 });
          send(q(), 'bacnet', { role: 'unsolicited', func: -1 });
          send(q(), 'bacnet', {
            role: 'request',
            func: 15,
            write: true,
            targets: [{ space: 'analog_value', start: 1, count: 1 }],
          });
        },
        // A layer-2 message on no edge, and an ARP request.
        () => {
          const p = tcp((ts += 0.01), HMI, 0, PLC, 0);
          p.ipVersion = 0;
          send(p, 'goose', { role: 'unsolicited', func: 0, transport: 'l2', values: [1] });
          const a = tcp((ts += 0.01), HMI, 0, PLC, 0);
          a.ipVersion = 0;
          send(a, 'arp', { role: 'request', func: 1, transport: 'l2' });
        },
      ];
      for (let round = 0; round < 40; round++) {
        // A warm run of the learned poll and its answer (up to 300 pairs).
        const n = 1 + Math.floor(rnd() * 300);
        for (let i = 0; i < n; i++) {
          send(toPlc(), 'modbus', POLL);
          send(fromPlc(), 'modbus', {
            role: 'response',
            func: 3,
            values: [1, 2, 3, 4, 5, 6, 7, 8, 9, 50],
          });
        }
        attacks[Math.floor(rnd() * attacks.length)]!(round);
      }
      // Every attack at least once, each after a warm poll.
      for (const a of attacks) {
        for (let i = 0; i < 50; i++) send(toPlc(), 'modbus', POLL);
        a(0);
      }
    }, shared);
    assert.ok(r.checked > 5000, `only ${r.checked} messages`);
    assert.equal(r.got.length, r.want.length);
    assert.deepEqual(r.got, r.want);
    // Every interest was met at least once (the test exercises every pass).
    for (const i of INTERESTS)
      assert.ok(
        r.got.some((g) => g.includes(`:${i}#`)),
        `${i} never reached`,
      );
  });

test("a settled edge's packets (the engine's packet fast path) reach port and every-packet detectors, and the edge each hook sees is the long way's", () => {
  // The same hostile sequence through an engine reading the inventory's edges (where learned, answered edges
  // whose ends were both heard take the fast path) and through one with its own edge table (always the long
  // way): every packet and message hook must see the same packets, edges and directions.
  const trace = (
    shared: boolean,
    everyPacket: boolean,
    ports: boolean,
    opening: number,
  ): string[] => {
    const log: string[] = [];
    // Frames counted from this trace's first (the builders number frames across the whole test file).
    let base = -1;
    const f = (frame: number): number => frame - (base < 0 ? (base = frame) : base);
    const at = (ctx: DetectContext): string =>
      `${ctx.edge?.addr.id ?? '-'}:${ctx.toServer}:${ctx.edge?.profile ? 'learned' : 'new'}:${ctx.edge?.answered}`;
    const packetSpy = (name: string, set: Partial<Detector>): Detector => ({
      name,
      ...set,
      onPacket(pkt, ctx) {
        log.push(`${name} ${f(pkt.frame)} ${at(ctx)}`);
      },
    });
    const detectors: Detector[] = [
      packetSpy('unprofiled', { packets: 'unprofiled' }),
      packetSpy('new-sender', { packets: 'new-sender' }),
      {
        name: 'messages',
        onMessage(m, ctx) {
          log.push(`message ${f(m.frame)} ${at(ctx)}`);
        },
      },
    ];
    // A port detector on the poll's server port only: the answers still take the fast path.
    if (ports) detectors.push(packetSpy('port502', { dstPorts: [502] }));
    if (everyPacket) detectors.push(packetSpy('every', {}));
    const inv = shared ? new Inventory() : undefined;
    const eng = new DetectionEngine(learn(), { detectors, inventory: inv });
    const both = inv === undefined ? eng : new Stages([inv, eng]);
    let ts = 5000;
    const poll = (n: number): void => {
      for (let i = 0; i < n; i++) {
        const q = tcp((ts += 0.2), HMI, 40000, PLC, 502);
        feed(both, q, msg(q, 'modbus', POLL));
        const a = tcp((ts += 0.005), PLC, 502, HMI, 40000);
        feed(both, a, msg(a, 'modbus', { role: 'response', func: 3, values: [1] }));
      }
    };
    // The server end first, with resets only (heard from, not answered) or with data (answered), then the client:
    // the edge must not settle before it is answered, nor before its client was heard.
    for (let i = 0; i < 3; i++)
      feed(both, tcp((ts += 0.01), PLC, 502, HMI, 40000, opening, opening === 0x04 ? 0 : 12));
    for (let i = 0; i < 3; i++) {
      const q = tcp((ts += 0.01), HMI, 40000, PLC, 502);
      feed(both, q, msg(q, 'modbus', POLL));
    }
    poll(500);
    // An unlearned edge answered both ways, many times: answered and heard from both ends, but never settled.
    for (let i = 0; i < 30; i++) {
      feed(both, tcp((ts += 0.01), EVIL, 40001, PLC, 502));
      feed(both, tcp((ts += 0.01), PLC, 502, EVIL, 40001));
    }
    // A new client on the learned server port, a SYN nobody answers, the server reaching the client's port as a
    // server of its own, ICMPv6 link housekeeping and an echo, each between stretches of the settled poll.
    feed(both, tcp((ts += 0.01), EVIL, 40001, PLC, 502));
    poll(20);
    feed(both, tcp((ts += 0.01), HMI, 40002, PLC, 503, 0x02));
    poll(20);
    feed(both, tcp((ts += 0.01), PLC, 41000, HMI, 40000, 0x02));
    feed(both, tcp((ts += 0.01), HMI, 40000, PLC, 41000, 0x12));
    poll(20);
    const icmp6 = tcp((ts += 0.01), HMI, 0, PLC, 0);
    icmp6.ipVersion = 6;
    icmp6.ipProto = 58;
    icmp6.srcIp = 'fe80::1';
    icmp6.dstIp = 'ff02::1';
    feed(both, icmp6);
    poll(20);
    both.finish?.();
    return log;
  };
  for (const [everyPacket, ports] of [
    [false, false],
    [false, true],
    [true, false],
    [true, true],
  ]) {
    for (const opening of [0x04, 0x18])
      assert.deepEqual(
        trace(true, everyPacket!, ports!, opening),
        trace(false, everyPacket!, ports!, opening),
      );
    const fast = trace(true, everyPacket!, ports!, 0x04);
    // Every packet to port 502 (the settled poll's requests included) reached the port detector.
    if (ports)
      assert.equal(fast.filter((l) => l.startsWith('port502 ')).length, 3 + 500 + 20 * 4 + 31);
    if (everyPacket)
      assert.equal(fast.filter((l) => l.startsWith('every ')).length, 6 + 2 * 580 + 60 + 5);
    // Every message saw its edge and direction, and the new client was a new sender.
    assert.equal(fast.filter((l) => l.startsWith('message ')).length, 3 + 2 * 580);
    // The unlearned edge's every packet reached the unprofiled detectors.
    assert.ok(fast.filter((l) => l.startsWith('unprofiled ') && l.includes(EVIL)).length >= 61);
    assert.ok(fast.some((l) => l.startsWith('new-sender ') && l.includes(EVIL)));
  }
});
