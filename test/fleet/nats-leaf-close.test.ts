// What the installed nats-server does with an open leaf link whose certificate is no longer admitted — the
// reason hub-reload.ts closes such links itself (ss -K). Checked against the real server so that an upgrade
// that can do it inside NATS shows here: (1) a reload that removes the link's user leaves the link open;
// (2) leafnode pinned_certs (which would close links whose key is not pinned) cannot be changed by a reload.
// (A server that closes the link on reload makes cutRemovedLinks find nothing to close: it then says
// 'none open' and runs no ss at all.)
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createHash, X509Certificate } from 'node:crypto';
import { hubPid, reloadHub } from '../../src/fleet/hub-reload.js';
import { sleep, tempDir, until } from './fleet-kit.js';
import { liveHub } from './hub-kit.js';

const dir = tempDir('fleet-leaf-close');
const stops: Array<() => Promise<void>> = [];
after(async () => {
  for (const s of stops.reverse()) await s().catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

test('nats-server keeps a leaf link open when a reload takes its user out, and cannot reload leaf pins', async () => {
  const hub = await liveHub(dir, ['a', 'b']);
  stops.push(() => hub.stop());
  const { home, mdir } = hub;
  const leafs = async (): Promise<number> => (await hub.links()).length;
  for (const s of ['a', 'b']) await hub.node(s);
  await until('a and b linked', async () => (await leafs()) === 2);

  // (1) b's user out, reloaded: its link stays (the server re-checks client connections only).
  home.sites = ['a'];
  assert.equal(await reloadHub(home), 'reloaded');
  await sleep(2000);
  assert.equal(
    await leafs(),
    2,
    "nats-server now closes a leaf link whose user a reload removed: hub-reload's ss -K may become a fallback only",
  );

  // (2) Pinning a's key alone on the leafnode port: the reload is refused, nothing changes.
  const conf = path.join(mdir, 'hub.conf');
  const spki = createHash('sha256')
    .update(
      new X509Certificate(readFileSync(path.join(mdir, 'sites', 'a', 'site.pem'))).publicKey.export(
        { type: 'spki', format: 'der' },
      ),
    )
    .digest('hex');
  writeFileSync(
    conf,
    readFileSync(conf, 'utf8').replace(
      '    verify_and_map: true\n',
      `    verify_and_map: true\n    pinned_certs: [${JSON.stringify(spki)}]\n`,
    ),
  );
  await assert.rejects(
    reloadHub(home),
    /config reload not supported for LeafNode/,
    'nats-server now reloads leafnode pinned_certs: a re-key could pin the current keys and let it close the rest',
  );
  assert.equal(hubPid(mdir) !== null, true, 'the hub runs on with its old configuration');
  assert.equal(await leafs(), 2);
});
