// A site name's enrolments: each one a new generation in the certificate's subject, recorded so it is never
// handed out twice; the hub's users name only the current one; a removal drops the enrolment's private key;
// a folder made before generations keeps its sites' certificates (generation 0) until they are enrolled again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { addSite, generationOf, openHome } from '../../src/fleet/home.js';
import { removeSite } from '../../src/fleet/hub-reload.js';
import { hubAuthorization } from '../../src/fleet/nats-config.js';
import { tempDir } from './fleet-kit.js';

const subject = (pem: string): string =>
  execFileSync('openssl', ['x509', '-noout', '-subject', '-nameopt', 'RFC2253', '-in', pem])
    .toString()
    .trim();
const users = (dir: string): string => {
  const h = openHome(dir);
  return hubAuthorization(h.nkeyPublic, h.sites, h.generations);
};

test('each enrolment of a name is a new generation; the hub maps only the current one', async () => {
  const dir = path.join(tempDir('fleet-enrol'), 'manager');
  const home = openHome(dir);
  const first = addSite(home, 'a');
  assert.equal(first.generation, 1);
  assert.equal(subject(first.tls.cert), 'subject=CN=site-a.g1');
  assert.equal(
    addSite(home, 'a').generation,
    1,
    'adding an enrolled site again: the same enrolment',
  );
  assert.match(users(dir), /"CN=site-a\.g1"/);

  assert.deepEqual(await removeSite(home, 'a'), { live: 'not running', links: null });
  assert.ok(
    !existsSync(path.join(home.pki, 'site-a.g1.key')),
    "the removed enrolment's key is gone",
  );
  assert.doesNotMatch(users(dir), /site-a/);

  const again = addSite(openHome(dir), 'a');
  assert.equal(again.generation, 2);
  assert.equal(subject(again.tls.cert), 'subject=CN=site-a.g2');
  const u = users(dir);
  assert.match(u, /"CN=site-a\.g2"/);
  assert.doesNotMatch(u, /site-a\.g1|"CN=site-a"/, 'no earlier enrolment is mapped');
});

test('a folder from before generations: its sites stay generation 0 until enrolled again', async () => {
  const dir = path.join(tempDir('fleet-enrol-old'), 'manager');
  openHome(dir);
  // What an older weir left: a site in sites.json, no enrolments.json, its certificate named CN=site-x.
  writeFileSync(path.join(dir, 'sites.json'), '["x"]\n');
  const home = openHome(dir);
  assert.equal(generationOf(home, 'x'), 0);
  assert.match(users(dir), /"CN=site-x"/);
  await removeSite(home, 'x');
  const kit = addSite(openHome(dir), 'x');
  assert.equal(kit.generation, 1);
  assert.equal(subject(kit.tls.cert), 'subject=CN=site-x.g1');
  assert.doesNotMatch(users(dir), /"CN=site-x"/, 'the old certificate is no longer mapped');
});
