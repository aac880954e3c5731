import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nextStart } from '../../src/assess/vulnerabilities.js';
import type { TimeWindow } from '../../src/policy/model.js';

// Saturday 02:00–04:00 in Berlin: 01:00–03:00 UTC in winter (CET, UTC+1), 00:00–02:00 in summer (CEST).
const sat: TimeWindow = {
  name: 'maintenance',
  days: ['sat'],
  from: 120,
  to: 240,
  timezone: 'Europe/Berlin',
};
const at = (iso: string): number => Date.parse(iso) / 1000;

test('the next maintenance window: its opening when it is closed, now when it is open, whatever the clock says', () => {
  // Friday noon in winter: the coming Saturday 02:00 Berlin.
  assert.equal(nextStart(sat, at('2026-11-27T12:00:00Z')), '2026-11-28T01:00:00.000Z');
  // Open: Saturday 02:12 Berlin counts from the current minute (rounded up), not from next week.
  assert.equal(nextStart(sat, at('2026-11-28T01:12:00Z')), '2026-11-28T01:12:00.000Z');
  assert.equal(nextStart(sat, at('2026-11-28T01:12:30Z')), '2026-11-28T01:13:00.000Z');
  // Just after it closed: a week later.
  assert.equal(nextStart(sat, at('2026-11-28T03:00:00Z')), '2026-12-05T01:00:00.000Z');
  // Summer time: 02:00 Berlin is 00:00 UTC.
  assert.equal(nextStart(sat, at('2026-07-01T12:00:00Z')), '2026-07-04T00:00:00.000Z');
});
