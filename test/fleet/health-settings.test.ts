// The sites page's ok / stale / cut off thresholds are settings (fleet.stale_after_s, fleet.cut_off_after_s),
// with the former constants as defaults; a file can move them, bad values are refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSettings } from '../../src/settings/load.js';
import { DEFAULT_SETTINGS } from '../../src/settings/model.js';
import { healthOf } from '../../src/fleet/site-view.js';

const NOW = 1_800_000_000_000;

test('fleet health thresholds: defaults 60 s and 300 s, moved by the settings file, never skipping stale', () => {
  assert.equal(DEFAULT_SETTINGS.fleet.stale_after_s, 60);
  assert.equal(DEFAULT_SETTINGS.fleet.cut_off_after_s, 300);
  assert.equal(DEFAULT_SETTINGS.fleet.health_every_s, 10);
  assert.equal(healthOf(NOW - 59_000, NOW), 'ok');
  assert.equal(healthOf(NOW - 60_000, NOW), 'stale');
  assert.equal(healthOf(NOW - 300_000, NOW), 'cut off');

  const r = parseSettings(
    'weir: settings/1\nfleet:\n  stale_after_s: 20\n  cut_off_after_s: 90\n',
    'weir.yaml',
  );
  assert.ok(r.ok, JSON.stringify(r));
  const fleet = r.settings.fleet;
  assert.equal(healthOf(NOW - 19_000, NOW, fleet), 'ok');
  assert.equal(healthOf(NOW - 20_000, NOW, fleet), 'stale');
  assert.equal(healthOf(NOW - 90_000, NOW, fleet), 'cut off');
  // A cut-off bound below the stale one: a site is stale first, then cut off at the stale bound.
  const odd = { stale_after_s: 100, cut_off_after_s: 50 };
  assert.equal(healthOf(NOW - 60_000, NOW, odd), 'ok');
  assert.equal(healthOf(NOW - 100_000, NOW, odd), 'cut off');

  for (const bad of [
    'stale_after_s: 0',
    'cut_off_after_s: -5',
    'stale_after_s: soon',
    'node_dirs: x',
  ])
    assert.equal(parseSettings(`weir: settings/1\nfleet:\n  ${bad}\n`, 'weir.yaml').ok, false, bad);
});
