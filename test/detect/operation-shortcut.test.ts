// The engine skips operationOf for a (protocol, function) that mayOperate rules out (issue 18, det2 round): CIP's
// Get services and DNP3's READ, SELECT and OPERATE are now ruled out by function code, though both protocols'
// operations are read from the message. An attacker who hides an operation behind a polled function code (a
// reset on the Identity class, a clock write through DNP3 WRITE, a Get with a class that has operations) or who
// interleaves operations with thousands of polls must still reach the operations detectors every time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Message } from '../../src/dissect/message.js';
import { functionKeyNumber, PROTOCOLS } from '../../src/dissect/registry.js';
import { DetectionEngine } from '../../src/detect/engine.js';
import type { Detector } from '../../src/detect/detector.js';
import { mayOperate, operationOf } from '../../src/detect/detectors/engineering-ops.js';
import { feed, msg, tcp, HMI, PLC, EVIL, learn } from './synthetic.js';

/** CIP classes with operations (Identity, NVS, lock, clock, time sync, TCP/IP, Logix program objects) and others. */
const CIP_CLASSES = [
  0x01, 0x02, 0x04, 0x06, 0x43, 0x68, 0x69, 0x6a, 0x6b, 0x6c, 0x6d, 0x72, 0x74, 0x7e, 0x8b, 0x8e,
  0xa1, 0xa2, 0xa3, 0xac, 0xf5, 0xf6,
];
/** DNP3 object groups a request may carry: time (g50), files (g70), controls, analog outputs, class data. */
const DNP3_SPACES = [
  'g50v1',
  'g50v3',
  'g50v4',
  'g70v2',
  'g70v3',
  'g12v1',
  'g41v2',
  'g60v1',
  'g1v2',
];

/** Every message shape a request with this function code can take, as far as the operation readers look. */
function shapes(protocol: 'cip' | 'dnp3', func: number): Message[] {
  const p = tcp(1, HMI, 40000, PLC, protocol === 'cip' ? 44818 : 20000);
  const out: Message[] = [];
  if (protocol === 'cip') {
    for (const cls of [...CIP_CLASSES, undefined])
      for (const attribute_id of [undefined, 1, 3, 5, 6, 7, 10, 11, 12])
        for (const instance_id of [undefined, 0, 1, 2]) {
          // A field the dissector did not fill is absent, not undefined.
          const fields: Record<string, number> = {};
          if (cls !== undefined) fields.class_id = cls;
          if (attribute_id !== undefined) fields.attribute_id = attribute_id;
          if (instance_id !== undefined) fields.instance_id = instance_id;
          out.push(msg(p, 'cip', { role: 'request', func, fields }));
        }
  } else {
    for (const space of [null, ...DNP3_SPACES])
      for (const write of [false, true])
        out.push(
          msg(p, 'dnp3', {
            role: 'request',
            func,
            write,
            targets: space === null ? null : [{ space, start: 0, count: 1 }],
          }),
        );
  }
  return out;
}

test('mayOperate rules out a CIP or DNP3 function only when no request with it is an operation, whatever it holds', () => {
  let ruledOut = 0;
  for (const protocol of ['cip', 'dnp3'] as const)
    for (let func = -1; func < 512; func++) {
      if (mayOperate(protocol, func)) continue;
      ruledOut++;
      for (const m of shapes(protocol, func))
        assert.equal(
          operationOf(m, functionKeyNumber(protocol, func)),
          undefined,
          `${protocol} ${func} ${JSON.stringify(m.fields)} ${JSON.stringify(m.targets)}`,
        );
    }
  assert.ok(ruledOut > 500, `only ${ruledOut} ruled out`);
  // The polled ones are ruled out: CIP Get_Attribute_All/List/Single, DNP3 READ, SELECT, OPERATE.
  for (const f of [0x01, 0x03, 0x0e]) assert.equal(mayOperate('cip', f), false);
  for (const f of [1, 3, 4, 5, 6]) assert.equal(mayOperate('dnp3', f), false);
  // The ones that read the message are still asked: CIP Reset, Sets, vendor services, Multiple Service Packet;
  // DNP3 WRITE (a g50 clock or g70 file write), restarts, unsolicited switches, file functions.
  for (const f of [0x05, 0x02, 0x04, 0x10, 0x4b, 0x4c, 0x4d, 0x4f, 0x0a, 0x06, 0x07])
    assert.equal(mayOperate('cip', f), true, `cip ${f}`);
  for (const f of [2, 13, 14, 15, 16, 17, 18, 20, 21, 25, 30])
    assert.equal(mayOperate('dnp3', f), true, `dnp3 ${f}`);
  // Every function code an operation reader finds an operation for is asked.
  for (const protocol of ['cip', 'dnp3'] as const)
    for (let func = 0; func < 256; func++)
      if (
        shapes(protocol, func).some(
          (m) => operationOf(m, functionKeyNumber(protocol, func)) !== undefined,
        )
      )
        assert.ok(mayOperate(protocol, func), `${protocol} ${func}`);
});

test('operations hidden among thousands of CIP and DNP3 polls (same codes, same edge, another protocol) all reach the operations detectors', () => {
  const seen: string[] = [];
  const spy: Detector = {
    name: 'spy',
    messages: 'operations',
    onMessage(m, ctx) {
      seen.push(`${m.frame}:${ctx.operation?.type}`);
    },
  };
  const eng = new DetectionEngine(learn(), { detectors: [spy] });
  const want: string[] = [];
  let ts = 5000;
  let frame = 0;
  const send = (
    client: string,
    port: number,
    set: Partial<Message> & { protocol: 'cip' | 'dnp3' },
  ) => {
    const p = tcp((ts += 0.01), client, 40000, PLC, port);
    p.frame = ++frame;
    const { protocol, ...rest } = set;
    const m = msg(p, protocol, { role: 'request', ...rest });
    const op = operationOf(m, functionKeyNumber(protocol, m.func));
    if (op !== undefined) want.push(`${m.frame}:${op.type}`);
    feed(eng, p, m);
  };
  const cipPoll = (): void =>
    send(HMI, 44818, { protocol: 'cip', func: 0x03, fields: { class_id: 0x04, instance_id: 100 } });
  const dnp3Poll = (): void =>
    send(HMI, 20000, {
      protocol: 'dnp3',
      func: 1,
      targets: [{ space: 'g30v1', start: 0, count: 10 }],
    });
  const attacks: (() => void)[] = [
    // CIP: a Get on classes that have operations (still none), then the operations themselves on the polled edge.
    () =>
      send(HMI, 44818, {
        protocol: 'cip',
        func: 0x03,
        fields: { class_id: 0x8b, attribute_id: 6 },
      }),
    () =>
      send(HMI, 44818, { protocol: 'cip', func: 0x01, fields: { class_id: 0x01, instance_id: 1 } }),
    () =>
      send(HMI, 44818, { protocol: 'cip', func: 0x05, fields: { class_id: 0x01, instance_id: 1 } }),
    () =>
      send(HMI, 44818, {
        protocol: 'cip',
        func: 0x10,
        fields: { class_id: 0x8b, attribute_id: 6 },
      }),
    () =>
      send(HMI, 44818, { protocol: 'cip', func: 0x4b, fields: { class_id: 0x74, instance_id: 1 } }),
    () =>
      send(HMI, 44818, { protocol: 'cip', func: 0x4b, fields: { class_id: 0xa1, instance_id: 1 } }),
    // DNP3: WRITE with the poll's objects (none), with a clock and with file objects; SELECT/OPERATE; restarts.
    () =>
      send(HMI, 20000, {
        protocol: 'dnp3',
        func: 2,
        write: true,
        targets: [{ space: 'g30v1', start: 0, count: 1 }],
      }),
    () =>
      send(HMI, 20000, {
        protocol: 'dnp3',
        func: 2,
        write: true,
        targets: [{ space: 'g50v1', start: 0, count: 1 }],
      }),
    () =>
      send(HMI, 20000, {
        protocol: 'dnp3',
        func: 2,
        write: true,
        targets: [{ space: 'g70v3', start: 0, count: 1 }],
      }),
    () =>
      send(HMI, 20000, {
        protocol: 'dnp3',
        func: 3,
        targets: [{ space: 'g12v1', start: 0, count: 1 }],
      }),
    () =>
      send(HMI, 20000, {
        protocol: 'dnp3',
        func: 4,
        targets: [{ space: 'g12v1', start: 0, count: 1 }],
      }),
    () => send(HMI, 20000, { protocol: 'dnp3', func: 13 }),
    () =>
      send(HMI, 20000, {
        protocol: 'dnp3',
        func: 21,
        targets: [{ space: 'g60v2', start: 0, count: 1 }],
      }),
    // Both protocols flipping on one edge (the DNP3 port carrying CIP and back), and a client never seen.
    () => {
      send(HMI, 20000, { protocol: 'cip', func: 0x05, fields: { class_id: 0x01, instance_id: 1 } });
      send(HMI, 20000, { protocol: 'dnp3', func: 1 });
      send(HMI, 20000, { protocol: 'dnp3', func: 14 });
    },
    () => send(EVIL, 44818, { protocol: 'cip', func: 0x05, fields: { class_id: 0x01 } }),
  ];
  let s = 18;
  const rnd = (): number => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
  for (let round = 0; round < 60; round++) {
    const n = 1 + Math.floor(rnd() * 200);
    for (let i = 0; i < n; i++) {
      cipPoll();
      dnp3Poll();
    }
    attacks[Math.floor(rnd() * attacks.length)]!();
  }
  for (const a of attacks) {
    for (let i = 0; i < 50; i++) cipPoll();
    a();
  }
  assert.ok(frame > 5000);
  // Reset, set time, lock, firmware, DNP3 clock and file writes, restarts and unsolicited off each reached it.
  for (const type of [
    'device_restart',
    'time_change',
    'controller_lock',
    'firmware_change',
    'file_transfer',
    'unsolicited_control',
  ])
    assert.ok(
      want.some((w) => w.endsWith(`:${type}`)),
      `${type} never sent`,
    );
  assert.deepEqual(seen, want);
});

test("the engine's per-function table asks operationOf for every code that may operate, next to warm codes that do not (codes -1 to 1023)", () => {
  // An off-by-one in the table's index would let a code borrow its neighbour's "never an operation": each code that
  // may operate is sent right after both neighbours, many times, on one edge of every protocol.
  const seen: string[] = [];
  const spy: Detector = {
    name: 'spy',
    messages: 'operations',
    onMessage(m) {
      seen.push(`${m.frame}`);
    },
  };
  const eng = new DetectionEngine(learn(), { detectors: [spy] });
  const want: string[] = [];
  let ts = 5000;
  let frame = 0;
  for (const d of PROTOCOLS) {
    const send = (func: number): void => {
      const p = tcp((ts += 0.001), HMI, 40000, PLC, 502);
      p.frame = ++frame;
      const m = msg(p, d.name, { role: 'request', func, fields: { class_id: 1, instance_id: 1 } });
      if (operationOf(m, functionKeyNumber(d.name, func)) !== undefined) want.push(`${m.frame}`);
      feed(eng, p, m);
    };
    for (let func = -1; func < 1024; func++) {
      if (!mayOperate(d.name, func)) continue;
      for (let i = 0; i < 3; i++) {
        send(func - 1);
        send(func + 1);
        send(func);
      }
    }
  }
  assert.ok(want.length > 100, `only ${want.length} operations`);
  assert.deepEqual(seen, want);
});
