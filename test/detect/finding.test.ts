// finding() takes a finding's fields by name and lays every finding out the same way: the engine's report() and
// the aggregator read one object layout whatever order a detector wrote the fields in and whichever optional
// fields it gave.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { finding, type Finding } from '../../src/detect/detection.js';

const LAYOUT = [
  'type',
  'severity',
  'ts',
  'frame',
  'src',
  'dst',
  'protocol',
  'detail',
  'fields',
  'explanation',
  'response',
  'point',
  'pointValue',
  'explainMany',
];

test('every finding has all fields in one order, the optional ones undefined when not given', () => {
  const plain = finding({
    type: 'flood',
    severity: 'high',
    ts: 10,
    frame: 3,
    src: '10.0.0.1',
    dst: '10.0.0.2',
    protocol: 'modbus',
    detail: '',
    fields: { limit: 100 },
    explanation: 'the explanation',
    response: 'the response',
  });
  // Written in another order, with the optional fields.
  const explainMany = (list: string, total: number): string => `${total}: ${list}`;
  const pointed = finding({
    explainMany,
    response: 'respond',
    explanation: 'explain',
    pointValue: 7,
    point: 'hr:3',
    fields: {},
    detail: 'modbus:6',
    protocol: 'modbus',
    dst: '10.0.0.2',
    src: '10.0.0.1',
    frame: 4,
    ts: 11,
    severity: 'critical',
    type: 'write_new_range',
  });
  assert.deepEqual(Object.keys(plain), LAYOUT);
  assert.deepEqual(Object.keys(pointed), LAYOUT);
  assert.equal(plain.point, undefined);
  assert.equal(plain.pointValue, undefined);
  assert.equal(plain.explainMany, undefined);
  assert.equal(plain.explanation, 'the explanation');
  assert.equal(plain.response, 'the response');
  assert.equal(pointed.explanation, 'explain');
  assert.equal(pointed.response, 'respond');
  assert.equal(pointed.point, 'hr:3');
  assert.equal(pointed.pointValue, 7);
  assert.equal(pointed.explainMany, explainMany);
});

test('a finding rebuilt from another (the mute path) keeps the layout and only the fields it changes', () => {
  const f = finding({
    type: 'program_download',
    severity: 'critical',
    ts: 12,
    frame: 9,
    src: '10.0.0.5',
    dst: '10.0.0.6',
    protocol: 's7comm',
    detail: 's7comm:download',
    fields: { func: 0x1a },
    explanation: 'e',
    response: 'r',
    point: 'DB1',
  });
  // Extra properties on the init (a spread of something wider than a Finding) do not reach the copy.
  const wider = { ...f, extra: 1 } as Finding & { extra: number };
  const muted = finding({ ...wider, severity: 'low', fields: { ...f.fields, muted: true } });
  assert.deepEqual(Object.keys(muted), LAYOUT);
  assert.deepEqual(muted, { ...f, severity: 'low', fields: { func: 0x1a, muted: true } });
  assert.equal(f.severity, 'critical', 'the original is untouched');
});
