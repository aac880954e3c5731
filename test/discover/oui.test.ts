import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import path from 'node:path';
import { ouiBlocksOf, overlayOuiTable, shorten, vendorOf } from '../../src/discover/oui.js';
import { repoRoot } from '../helpers/paths.js';

const macOf = (block: string, tail = '00:00:01'): string =>
  `${block.slice(0, 2)}:${block.slice(2, 4)}:${block.slice(4, 6)}:${tail}`.toLowerCase();

test('every registry block names its vendor shortened, as when the whole table was shortened at load', () => {
  const text = gunzipSync(readFileSync(path.join(repoRoot, 'data/oui.tsv.gz'))).toString('utf8');
  let n = 0;
  for (const line of text.split('\n')) {
    const tab = line.indexOf('\t');
    if (tab <= 0) continue;
    const block = line.slice(0, tab);
    // Multicast or locally administered first octets are never looked up.
    if (parseInt(block.slice(0, 2), 16) & 0x03) continue;
    // A block listed twice: the later line is the one kept.
    if (text.indexOf(`\n${block}\t`, text.indexOf(line) + line.length) !== -1) continue;
    assert.equal(vendorOf(macOf(block)), shorten(line.slice(tab + 1)), block);
    n++;
  }
  assert.ok(n > 20_000, `${n} blocks`);
  // vendorOf finds a block by binary search over the lines: each block once, in order (scripts/gen-oui.mjs).
  const blocks = text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => l.slice(0, l.indexOf('\t')));
  for (let i = 1; i < blocks.length; i++)
    assert.ok(blocks[i - 1]! < blocks[i]!, `${blocks[i - 1]} before ${blocks[i]}`);
  // Blocks not registered, below, between and above the registered ones.
  for (const mac of ['00:00:00:00:00:04', 'fc:ff:f0:12:34:56', 'fc:ff:fc:00:00:01'])
    if (!blocks.includes(mac.replace(/:/g, '').slice(0, 6).toUpperCase()))
      assert.equal(vendorOf(mac), undefined, mac);
  assert.equal(vendorOf('00:00:00:00:00:00'), undefined);
  assert.equal(vendorOf('02:1b:1b:00:00:01'), undefined, 'locally administered');
});

test('a bundle entry wins over the registry, also for a block already asked for; blocks by vendor include it', () => {
  const siemens = vendorOf('00:1b:1b:00:00:01')!;
  assert.equal(vendorOf('fc:ff:f0:12:34:56'), undefined, 'not registered (yet)');
  assert.match(siemens, /^Siemens/);
  assert.ok(ouiBlocksOf(siemens).includes('001B1B'));
  assert.equal(
    overlayOuiTable('00-1B-1B   (hex)\t\tRenamed Vendor GmbH\nFC-FF-F0   (hex)  New Vendor Ltd.\n'),
    2,
  );
  assert.equal(vendorOf('00:1b:1b:00:00:01'), 'Renamed Vendor');
  assert.equal(vendorOf('fc:ff:f0:12:34:56'), 'New Vendor');
  assert.ok(!ouiBlocksOf(siemens).includes('001B1B'));
  assert.deepEqual(ouiBlocksOf('New Vendor'), ['FCFFF0']);
  assert.deepEqual(ouiBlocksOf('Renamed Vendor'), ['001B1B']);
});
