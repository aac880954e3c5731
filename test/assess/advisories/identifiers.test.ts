import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  catalogsIn,
  orderNumbersIn,
  sameOrderNumber,
  seriesAdmitted,
  vendorKey,
} from '../../../src/assess/advisories/identifiers.js';

test('Siemens order numbers with or without spaces, and advisory wildcards', () => {
  assert.deepEqual(orderNumbersIn('6ES7 315-2EH14-0AB0'), ['6ES7315-2EH14-0AB0']);
  assert.deepEqual(orderNumbersIn('SIMATIC NET, SCALANCE XC206-2, 6GK5 206-2BB00-2AC2'), [
    '6GK5206-2BB00-2AC2',
  ]);
  assert.deepEqual(orderNumbersIn('SIMATIC S7-400 CPU 414-2 DP V7 (6ES7414-2XL07-0AB0)'), [
    '6ES7414-2XL07-0AB0',
  ]);
  assert.deepEqual(orderNumbersIn('SIPLUS (6AG1315-2EH14-7xB0)'), ['6AG1315-2EH14-7*B0']);
  assert.ok(sameOrderNumber('6AG1315-2EH14-7AB0', '6AG1315-2EH14-7*B0'));
  assert.ok(!sameOrderNumber('6ES7315-2EH14-0AB0', '6ES7315-2FJ14-0AB0'));
  assert.deepEqual(orderNumbersIn('PLC_1'), []);
});

test('Rockwell catalog numbers and series', () => {
  assert.deepEqual(catalogsIn('1756-ENBT/A'), [{ base: '1756-ENBT', series: 'A' }]);
  assert.deepEqual(catalogsIn('1756-EN2T Series D: <= 11.003'), [
    { base: '1756-EN2T', series: 'D' },
  ]);
  assert.deepEqual(
    [...seriesAdmitted('1756-EN2T, Series A/B/C (unsigned version)')!],
    ['A', 'B', 'C'],
  );
  assert.equal(seriesAdmitted('1756-ENBT: all versions'), null);
});

test('vendor names reduce to one key', () => {
  assert.equal(vendorKey('Rockwell Automation/Allen-Bradley'), 'rockwell');
  assert.equal(vendorKey('Rockwell Automation '), 'rockwell');
  assert.equal(vendorKey('Siemens AG'), 'siemens');
  assert.equal(vendorKey('Siemens Schweiz'), 'siemens');
  assert.equal(vendorKey('Schneider Electric'), 'schneider');
  assert.equal(vendorKey(''), null);
});
