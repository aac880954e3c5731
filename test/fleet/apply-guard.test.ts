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
