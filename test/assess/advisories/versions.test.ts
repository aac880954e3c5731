import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  compareVersions,
  inRange,
  parseRange,
  parseVersion,
} from '../../../src/assess/advisories/versions.js';

const v = (s: string) => {
  const x = parseVersion(s);
  assert.ok(x, `version ${s} parses`);
  return x;
};
const within = (fw: string, range: string, exact = false) =>
  inRange(v(fw), parseRange(range, exact));

test('versions as vendors write them compare part by part', () => {
  assert.equal(compareVersions(v('V3.2.7'), v('V3.2.16')), -1);
  assert.equal(compareVersions(v('04.02.01'), v('V4.2.1')), 0);
  assert.equal(compareVersions(v('4.3'), v('4.003')), 0);
  assert.equal(compareVersions(v('5.008'), v('5.28')), -1);
  assert.equal(compareVersions(v('V16 Update 4'), v('V16.1')), -1);
  assert.equal(compareVersions(v('15.2(4)EA9'), v('15.2(3)')), 1);
  assert.equal(parseVersion('PLC_1'), null);
});

test('Siemens "V3.X.16": the X part matches any minor version', () => {
  assert.equal(within('V3.2.7', 'All versions < V3.X.16'), true);
  assert.equal(within('V3.3.15', '< V3.X.16'), true);
  assert.equal(within('V3.2.16', '< V3.X.16'), false);
  assert.equal(within('V3.2.17', '< V3.X.17'), false);
});

test('range forms of the CISA corpus', () => {
  assert.equal(within('V3.2.7', 'vers:all/<V3.2.16'), true);
  assert.equal(within('V3.2.16', 'vers:all/<V3.2.16'), false);
  assert.equal(within('V8.1', 'vers:all/>=V7.80<V9.40'), true);
  assert.equal(within('V9.40', 'vers:all/>=V7.80<V9.40'), false);
  assert.equal(within('V2.5', 'V2.0 to V2.8'), true);
  assert.equal(within('V2.9', 'V2.0 to V2.8'), false);
  assert.equal(within('3.4', 'Versions 3.4 and prior'), true);
  assert.equal(within('3.5', 'Versions 3.4 and prior'), false);
  assert.equal(within('1.3', '>= 1.2 | <= 1.5'), true);
  assert.equal(within('1.6', '>= 1.2 | <= 1.5'), false);
  assert.equal(within('11.001', '<= 11.001'), true);
  assert.equal(within('5.5.0', 'prior to 5.5.0'), false);
  assert.equal(within('V4.1', 'V4.1', true), true);
  assert.equal(within('V4.2.1', 'V4.1', true), false);
  assert.equal(within('V4.2.1', 'All versions >= V2.0 and < V4.3'), true);
  assert.deepEqual(parseRange('vers:all/*'), { kind: 'all' });
  assert.deepEqual(parseRange('All versions'), { kind: 'all' });
});

test('a range nobody can read is unparsed, never "in range"', () => {
  for (const t of ['<April/13/2023', '1SAP535100R2001 | G1  with BSP <= UN31 1.76', 'MV720', '']) {
    const r = parseRange(t);
    assert.equal(r.kind, 'unparsed', t);
    assert.equal(inRange(v('1.0'), r), null);
  }
});
