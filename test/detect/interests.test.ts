// The engine calls a detector only for the messages its interest names; a narrower interest must see exactly
// the messages on which the wider one would have got past its own checks (so skipping the calls changes nothing).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Message } from '../../src/dissect/message.js';
import { DetectionEngine } from '../../src/detect/engine.js';
import type { DetectContext, Detector, MessageInterest } from '../../src/detect/detector.js';
import { feed, msg, tcp, HMI, PLC, EWS, learn, normalTraffic } from './synthetic.js';

test('each interest reaches exactly the messages of its kind, in the order of the detector list', () => {
  const seen = new Map<string, number[]>();
  const calls: string[] = [];
  const probe = (messages: MessageInterest): Detector => ({
    name: messages,
    messages,
    onMessage(m: Message, _ctx: DetectContext) {
      const list = seen.get(messages) ?? [];
      list.push(m.frame);
      seen.set(messages, list);
      calls.push(`${m.frame}:${messages}`);
    },
  });
  const interests: MessageInterest[] = [
    'writes',
    'requests',
    'operations',
    'new-functions',
    'new-protocols',
    'refusals',
    'placed',
    'placed-learned',
  ];
  const eng = new DetectionEngine(learn(), { detectors: interests.map(probe) });
  const t = normalTraffic({ onPacket() {}, onMessage() {} }, 2000, 1);
  const frames: Record<string, number> = {};
  const send = (
    name: string,
    src: string,
    sport: number,
    dst: string,
    dport: number,
    set: Partial<Message>,
    protocol: 'modbus' | 's7comm' = 'modbus',
  ) => {
    const p = tcp(t + Object.keys(frames).length * 0.01, src, sport, dst, dport);
    frames[name] = p.frame;
    feed(eng, p, msg(p, protocol, set));
  };
  // A learned poll (read of learned registers, whose response carries values).
  send('poll', HMI, 40000, PLC, 502, {
    role: 'request',
    func: 3,
    funcName: 'READ_HOLDING_REGISTERS',
    txId: 1,
    targets: [{ space: 'holding_register', start: 0, count: 10 }],
  });
  send('pollAnswer', PLC, 502, HMI, 40000, {
    role: 'response',
    func: 3,
    txId: 1,
    values: [1, 2, 3, 4, 5, 6, 7, 8, 9, 50],
  });
  // A learned write function to a new register: a write, nothing else.
  send('write', HMI, 40000, PLC, 502, {
    role: 'request',
    func: 6,
    funcName: 'WRITE_SINGLE_REGISTER',
    txId: 2,
    write: true,
    targets: [{ space: 'holding_register', start: 300, count: 1 }],
    values: [1],
  });
  // A function the edge never used that writes: outside the profile and a write.
  send('newWrite', HMI, 40000, PLC, 502, {
    role: 'request',
    func: 16,
    funcName: 'WRITE_MULTIPLE_REGISTERS',
    txId: 3,
    write: true,
    targets: [{ space: 'holding_register', start: 100, count: 1 }],
    values: [1],
  });
  // An engineering operation (device identification is a probe) on a new edge: an operation only.
  send('op', EWS, 50000, PLC, 502, {
    role: 'request',
    func: 43,
    funcName: 'READ_DEVICE_IDENTIFICATION',
    txId: 4,
  });
  // Its refusal (exception response).
  send('refused', PLC, 502, EWS, 50000, { role: 'response', func: 43, txId: 4, exception: 1 });
  // Another protocol on the learned Modbus edge.
  send(
    'otherProtocol',
    HMI,
    40000,
    PLC,
    502,
    { role: 'request', func: 4, funcName: 'READ_VAR', txId: 5 },
    's7comm',
  );
  const f = frames;
  const requests = [f.poll, f.write, f.newWrite, f.op, f.otherProtocol];
  assert.deepEqual(seen.get('requests'), requests);
  assert.deepEqual(seen.get('operations'), [f.op]);
  assert.deepEqual(seen.get('new-functions'), [f.newWrite, f.otherProtocol]);
  assert.deepEqual(seen.get('writes'), [f.write, f.newWrite]);
  assert.deepEqual(seen.get('new-protocols'), [f.otherProtocol]);
  assert.deepEqual(seen.get('refusals'), [f.refused]);
  const placed = [f.poll, f.pollAnswer, f.write, f.newWrite];
  assert.deepEqual(seen.get('placed'), placed);
  // Only the HMI–PLC edge learned values; all four placed messages are on it.
  assert.deepEqual(seen.get('placed-learned'), placed);
  // Within one message the detectors run in list order ('writes' before 'requests', as listed).
  assert.deepEqual(
    calls.filter((c) => c.startsWith(`${f.newWrite}:`)),
    [
      `${f.newWrite}:writes`,
      `${f.newWrite}:requests`,
      `${f.newWrite}:new-functions`,
      `${f.newWrite}:placed`,
      `${f.newWrite}:placed-learned`,
    ],
  );
});
