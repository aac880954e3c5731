// Sites reuse address plans: an address blocked at one site can be a PLC at another. A fleet block that would
// cut this site's baseline flows is refused here and reported, never put into this site's kernel.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { openStore } from '../../src/store/db.js';
import { saveBaseline } from '../../src/store/baseline-store.js';
import { guardBlock } from '../../src/respond/block-impact.js';
import { stateApplier } from '../../src/fleet/apply-state.js';
import type { Blocklist } from '../../src/fleet/manager.js';
import type { StateDoc } from '../../src/fleet/signed-doc.js';
import { plantBaseline } from '../helpers/plant-fixtures.js';
import { MemoryBackend, tempDir } from './fleet-kit.js';

const blocklist = (version: number, entries: Blocklist['entries']): StateDoc<Blocklist> => ({
  format: 'weir-state/1',
  kind: 'blocklist',
  version,
  issued: new Date().toISOString(),
  publisher: 'manager',
  keyId: 'k',
  body: { entries },
});

test("a fleet block of this site's PLC is refused here and reported; the attacker's address is blocked", async () => {
  const db = openStore(path.join(tempDir('fleet-guard'), 'site.db'));
  try {
    saveBaseline(db, plantBaseline()); // 10.77.0.21 is a PLC with baseline flows at this site
    const be = new MemoryBackend();
    const refused: string[] = [];
    const apply = stateApplier(be, {
      site: 'b',
      refuseBlock: (ip) => guardBlock(db, ip, false).refusal,
      onBlockRefused: (ip, reason) => refused.push(`${ip}: ${reason.split('\n')[0]}`),
    });
    const until = Math.floor(Date.now() / 1000) + 600;
    await apply(
      blocklist(1, [
        { address: '10.77.0.21', until, origin: 'a', comment: 'playbook at a' },
        { address: '10.77.0.66', until, origin: 'a', comment: 'playbook at a' },
      ]),
      null,
    );
    assert.deepEqual([...be.blocks.keys()], ['10.77.0.66']);
    assert.equal(refused.length, 1);
    assert.match(refused[0]!, /^10\.77\.0\.21: blocking 10\.77\.0\.21 cuts 2 baseline flow/);
    // This site's own decision (it passed its own guard when taken) is never second-guessed by the relay.
    const own = new MemoryBackend();
    await stateApplier(own, { site: 'b', refuseBlock: () => 'no' })(
      blocklist(2, [{ address: '10.77.0.21', until, origin: 'b', comment: 'confirmed here' }]),
      null,
    );
    assert.deepEqual([...own.blocks.keys()], ['10.77.0.21']);
  } finally {
    db.close();
  }
});

test("a fleet block of this site's gateway, own address, router or hub is refused here and reported, before and without the baseline guard (rev12 R4)", async () => {
  const db = openStore(path.join(tempDir('fleet-never'), 'site.db'));
  try {
    saveBaseline(db, plantBaseline());
    const until = Math.floor(Date.now() / 1000) + 600;
    const entries: Blocklist['entries'] = [
      { address: '10.77.0.21', until, origin: 'a', comment: 'decoy contact at site a' },
      { address: '10.77.0.2', until, origin: 'a', comment: 'decoy contact at site a' },
      { address: '10.77.0.1', until, origin: 'manager:sam', comment: '' },
      { address: '192.0.2.7', until, origin: 'a', comment: 'the hub, as site a saw it' },
      { address: '10.77.0.255', until, origin: 'a', comment: 'spoofed broadcast source' },
      // This site's own earlier block of an address that has since become its gateway.
      { address: '10.77.0.3', until, origin: 'b', comment: 'playbook at b' },
      { address: '10.77.0.66', until, origin: 'a', comment: 'playbook at a' },
    ];
    // The site as `weir node --db` wires it: its store's baseline guard, and what the host never blocks (read
    // for each document: a second gateway, .3, is set up between the two).
    let second: string[] = [];
    const never = () => ({
      addresses: ['10.77.0.1', '10.77.0.2', '192.0.2.7', ...second],
      subnets: ['10.77.0.1/24'],
    });
    for (const withBaseline of [true, false]) {
      const be = new MemoryBackend();
      const refused: string[] = [];
      second = [];
      const apply = stateApplier(be, {
        site: 'b',
        ...(withBaseline ? { refuseBlock: (ip: string) => guardBlock(db, ip, false).refusal } : {}),
        neverBlock: never,
        onBlockRefused: (ip, reason) => refused.push(`${ip}: ${reason.split('\n')[0]}`),
      });
      await apply(blocklist(1, entries.slice(0, 5).concat(entries.slice(6))), null);
      second = ['10.77.0.3'];
      await apply(blocklist(2, entries), null);
      // Without a store (--without-baseline-guard) the PLC is blocked as before; the host's own never are.
      assert.deepEqual(
        [...be.blocks.keys()].sort(),
        withBaseline ? ['10.77.0.66'] : ['10.77.0.21', '10.77.0.66'],
      );
      const said = refused.join('\n');
      for (const a of ['10.77.0.2', '10.77.0.1', '192.0.2.7', '10.77.0.255', '10.77.0.3'])
        assert.match(said, new RegExp(`^${a.replace(/\./g, '\\.')}: `, 'm'), said);
      assert.match(said, /10\.77\.0\.255: .*broadcast address/);
      assert.equal(/10\.77\.0\.21: blocking/.test(said), withBaseline);
    }
  } finally {
    db.close();
  }
});
