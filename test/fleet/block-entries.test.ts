import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  carriedEntry,
  FLEET_BLOCK_MAX_S,
  FLEET_BLOCKS_PER_SITE,
  withBlock,
} from '../../src/fleet/block-request.js';
import { Refused } from '../../src/fleet/aggregate-store.js';
import type { BlockEntry } from '../../src/fleet/manager.js';

const NOW = 1_800_000_000;

// A manager upgraded past the block checks must not lift, at every site, the blocks its operator placed before
// them (a 90-day block, an address typed in capitals): they are carried over in the checks' form.
test('blocklist entries from before the checks are carried over, not dropped', () => {
  const old: BlockEntry = {
    address: '2001:DB8::1',
    until: NOW + 90 * 86400,
    origin: 'manager:alice',
    comment: 'x'.repeat(5000),
  };
  const c = carriedEntry(old, NOW)!;
  assert.equal(c.address, '2001:db8::1');
  assert.equal(c.until, NOW + 90 * 86400, "the manager's own time stands");
  assert.equal(c.comment.length, 1024);
  const site = carriedEntry({ ...old, origin: 'north', until: NOW + 31_000 * 365 * 86400 }, NOW)!;
  assert.equal(site.until, NOW + FLEET_BLOCK_MAX_S, "a site's time is cut to the cap");
  assert.equal(carriedEntry({ ...old, address: 'not-an-ip' }, NOW), null);
  assert.equal(carriedEntry({ ...old, address: '224.0.0.1' }, NOW), null, 'multicast is no host');
  assert.equal(carriedEntry({ ...old, until: Number.NaN }, NOW), null);
});

// A rogue site sending distinct valid addresses would grow the signed list until no version fits a message,
// the manager's own blocks included.
test('a site holds at most FLEET_BLOCKS_PER_SITE live blocks; the manager and other sites are not held to it', () => {
  const mine: BlockEntry[] = Array.from({ length: FLEET_BLOCKS_PER_SITE }, (_, i) => ({
    address: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${(i & 255) + 1}`,
    until: NOW + 60,
    origin: 'rogue',
    comment: '',
  }));
  const req = { address: '192.0.2.7', ttlSeconds: 60, comment: '' };
  assert.throws(() => withBlock(mine, req, 'rogue', NOW), Refused);
  // Renewing one it already holds is not a new entry.
  const renewed = withBlock(
    mine,
    { ...req, address: mine[0]!.address, ttlSeconds: 600 },
    'rogue',
    NOW,
  );
  assert.equal(renewed.length, FLEET_BLOCKS_PER_SITE);
  assert.equal(renewed.find((e) => e.address === mine[0]!.address)!.until, NOW + 600);
  assert.equal(withBlock(mine, req, 'north', NOW).length, FLEET_BLOCKS_PER_SITE + 1);
  assert.equal(withBlock(mine, req, 'manager:alice', NOW).length, FLEET_BLOCKS_PER_SITE + 1);
});
