// Fleet permits: granted on the manager, signed into the permits document, applied at each site into its
// scoped permit set with the time left (the kernel timeout), checked against the site's own zone; revoked
// at once; refused at the manager when out of scope and at a site when run out or not its zone.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { rmSync } from 'node:fs';
import { applyPermits } from '../../src/fleet/apply-permits.js';
import { addSite, openHome, readSiteKit } from '../../src/fleet/home.js';
import { NodeRuntime } from '../../src/fleet/node-runtime.js';
import { makePermit, type FleetPermit } from '../../src/fleet/permit-doc.js';
import { blocksInForce } from '../../src/fleet/site-blocks.js';
import type {
  HostStatus,
  PermitFlow,
  PermitResult,
  PermitScope,
} from '../../src/enforce/backend.js';
import { freePort, MemoryBackend, tempDir, until } from './fleet-kit.js';
import { startManager } from './hub-kit.js';

const dir = tempDir('fleet-permits');
const stops: Array<() => Promise<void>> = [];
after(async () => {
  for (const s of stops.reverse()) await s().catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

const policy = (cidr: string): string => `weir: policy/1
zones:
  - { name: cell, members: [${cidr}], mode: enforce }
`;

/**
 * A site's enforcement that records permits with their scope, under a policy with zone 'cell', its gateway
 * judging the server·ports `steered` lists.
 */
class PermitBackend extends MemoryBackend {
  readonly given: Array<{ flow: PermitFlow; ttl: number; scope?: PermitScope }> = [];
  readonly revoked: PermitFlow[] = [];
  constructor(
    private readonly text: string,
    private readonly steered: string[] = ['10.70.0.5:502'],
  ) {
    super();
  }
  /** Servers whose permits the host fails to write (a full state disk, an nft session error). */
  readonly failOn = new Set<string>();
  override permit(
    flow: PermitFlow,
    ttlSeconds: number,
    comment = '',
    scope?: PermitScope,
  ): Promise<PermitResult> {
    if (this.failOn.has(flow.server))
      return Promise.reject(new Error(`could not write the permit record for ${flow.server}`));
    this.given.push({ flow, ttl: ttlSeconds, scope });
    return Promise.resolve({ flow, ttlSeconds, until: 0, comment });
  }
  override revokePermit(...a: unknown[]): Promise<void> {
    this.revoked.push(a[0] as PermitFlow);
    return Promise.resolve();
  }
  override status(): HostStatus {
    return {
      ...super.status(),
      // The policy the site last applied (a fleet policy), else the one it was set up with.
      applied: { text: this.applied.at(-1) ?? this.text, sha: 'x' },
      steered: this.steered,
    } as unknown as HostStatus;
  }
}

const grant = {
  client: '10.70.0.100',
  server: '10.70.0.5',
  zone: 'cell',
  protocol: 'modbus',
  functions: ['read_holding_registers'],
  addresses: { holding_register: ['100-109'] },
  ttlSeconds: 600,
  grantedBy: 'alice',
  comment: 'vendor session',
};

test('a fleet permit reaches the sites whose zone holds the server, scoped and timed; revoked at once', async () => {
  const mdir = path.join(dir, 'manager');
  const home = openHome(mdir);
  for (const s of ['a', 'b']) addSite(home, s);
  const logs: string[] = [];
  const { mgr, leafPort } = await startManager(mdir, stops, (m) => logs.push(m));
  // Site a's cell holds 10.70.0.5; site b reuses the zone name for another address plan.
  const be = {
    a: new PermitBackend(policy('10.70.0.0/28')),
    b: new PermitBackend(policy('10.80.0.0/28'), ['10.80.0.5:502']),
  };
  const rt: Record<string, NodeRuntime> = {};
  for (const s of ['a', 'b'] as const) {
    rt[s] = await NodeRuntime.start({
      kit: readSiteKit(s, path.join(mdir, 'sites', s)),
      dir: tempDir(`site-${s}`),
      client: { host: '127.0.0.1', port: await freePort() },
      hubUrls: [`nats-leaf://127.0.0.1:${leafPort}`],
      local: be[s],
      log: () => undefined,
    });
    stops.push(() => rt[s]!.stop());
  }

  // Out of scope: refused at the manager, nothing published.
  const m = mgr.manager;
  await assert.rejects(m.grantPermit({ ...grant, ttlSeconds: 13 * 3600 }), /at most 12 h/);
  await assert.rejects(
    m.grantPermit({ ...grant, functions: ['write_single_register'] }),
    /read-only/,
  );
  await assert.rejects(m.grantPermit({ ...grant, protocol: 'gopher' }), /unknown protocol/);
  await assert.rejects(m.grantPermit({ ...grant, client: '10.70.0.0/24' }), /not an IPv4/);
  assert.equal(await m.state('permits'), null);

  const { permit, version } = await m.grantPermit(grant);
  assert.equal(version, 1);
  await until('a applied permits v1', () => rt.a!.follower.applied('permits')?.version === 1);
  assert.equal(be.a.given.length, 1);
  const g = be.a.given[0]!;
  assert.deepEqual(g.flow, {
    client: '10.70.0.100',
    server: '10.70.0.5',
    transport: 'tcp',
    port: 502,
  });
  assert.ok(g.ttl <= 600 && g.ttl >= 590, `the time left, not more: ${g.ttl}`);
  assert.deepEqual(g.scope?.group.functions, [3]);
  assert.deepEqual(g.scope?.group.addresses, { holding_register: [[100, 109]] });
  assert.equal(g.scope?.group.access, 'read-only');
  assert.equal(g.scope?.user, 'alice');
  // Site b's cell does not hold the server: refused there and reported to the manager.
  await until('b refused it', () =>
    logs.some((l) => l.includes(`site b refused fleet permit ${permit.id}`)),
  );
  assert.equal(be.b.given.length, 0);
  assert.match(logs.find((l) => l.includes('site b refused'))!, /not in zone 'cell' here/);

  // A permit for site b only is not a's to apply.
  await m.grantPermit({ ...grant, server: '10.80.0.5', client: '10.80.0.100', sites: ['b'] });
  await until('b applied v2', () => be.b.given.length === 1);
  await until('a at v2', () => rt.a!.follower.applied('permits')?.version === 2);
  assert.equal(be.a.given.filter((x) => x.flow.server === '10.80.0.5').length, 0);

  // Revoked: a withdraws the flow at once.
  await m.revokePermit(permit.id);
  await until('a withdrew it', () => be.a.revoked.length === 1);
  assert.deepEqual(be.a.revoked[0], g.flow);
  await assert.rejects(m.revokePermit(permit.id), /no running fleet permit/);
});

test('a site refuses a permit that has run out or is malformed, even when the document is genuine', async () => {
  const be = new PermitBackend(policy('10.70.0.0/28'));
  const nowS = Math.floor(Date.now() / 1000);
  const fresh = makePermit(grant, nowS);
  const stale: FleetPermit = { ...makePermit(grant, nowS - 700), id: 'abc' };
  const odd = { ...makePermit(grant, nowS), id: 'def', server: '10.70.0.5; drop' } as FleetPermit;
  const refused: string[] = [];
  const doc = {
    format: 'weir-state/1' as const,
    kind: 'permits' as const,
    version: 3,
    issued: '',
    publisher: 'm',
    keyId: 'k',
    body: { permits: [stale, odd, fresh] },
  };
  await applyPermits(be, doc, null, null, {
    site: 'a',
    onPermitRefused: (p, why) => refused.push(`${p.id}: ${why}`),
  });
  assert.equal(be.given.length, 1, 'only the running, well-formed permit');
  assert.equal(be.given[0]!.flow.server, '10.70.0.5');
  assert.match(refused[0]!, /^abc: ran out 100 s ago/);
  assert.match(refused[1]!, /^def: client or server is not an IPv4 address/);
  // No policy in force here: no zone to check the server against, so nothing is let through.
  const bare = new MemoryBackend();
  const why: string[] = [];
  await applyPermits(bare, doc, null, null, { site: 'a', onPermitRefused: (_p, w) => why.push(w) });
  assert.match(why.at(-1)!, /no policy in force here/);
});

test('a limited permit nothing can judge is refused: at the manager for a protocol the gateway cannot read, at a site whose gateway does not judge the server (review 12b, B7)', async () => {
  const nowS = Math.floor(Date.now() / 1000);
  assert.throws(
    () =>
      makePermit(
        { ...grant, protocol: 'bacnet', functions: undefined, addresses: undefined },
        nowS,
      ),
    /permit refused: .*limited.*bacnet/,
  );
  // Read-write with no lists is a permit by flow: the kernel holds it whole.
  const byFlow = makePermit(
    { ...grant, functions: undefined, addresses: undefined, access: 'read-write' },
    nowS,
  );
  const limited = { ...makePermit(grant, nowS), id: 'f00d' };
  const doc = {
    format: 'weir-state/1' as const,
    kind: 'permits' as const,
    version: 4,
    issued: '',
    publisher: 'm',
    keyId: 'k',
    body: { permits: [limited, byFlow] },
  };
  const unsteered = new PermitBackend(policy('10.70.0.0/28'), []);
  const refused: string[] = [];
  await applyPermits(unsteered, doc, null, null, {
    site: 'a',
    onPermitRefused: (p, why) => refused.push(`${p.id}: ${why}`),
  });
  assert.deepEqual(refused, [
    'f00d: the permit is limited, but no gateway here judges 10.70.0.5:502: it would open the whole protocol',
  ]);
  assert.deepEqual(
    unsteered.given.map((g) => g.flow.server),
    ['10.70.0.5'],
    'only the permit by flow',
  );
  // Where the gateway judges the server, the limited permit goes in, scoped.
  const steered = new PermitBackend(policy('10.70.0.0/28'));
  await applyPermits(steered, doc, null, null, { site: 'a' });
  assert.equal(steered.given.length, 2);
  assert.ok(steered.given[0]!.scope !== undefined);
});

// Review 13, M4: a permits document that failed half-way (refused as not-applied) had granted its first permits,
// but a later revocation was computed from the last APPLIED version only: the revoked permit stayed live in the
// kernel and in the gateway's records until its own time ran out, while the manager said it was withdrawn.
test('a permits document that failed half-way: a later revocation withdraws what it granted', async () => {
  const mdir = path.join(dir, 'manager-partial');
  addSite(openHome(mdir), 'a');
  const { mgr, leafPort } = await startManager(mdir, stops);
  const be = new PermitBackend(policy('10.70.0.0/28'), ['10.70.0.5:502', '10.70.0.6:502']);
  const rt = await NodeRuntime.start({
    kit: readSiteKit('a', path.join(mdir, 'sites', 'a')),
    dir: tempDir('site-partial'),
    client: { host: '127.0.0.1', port: await freePort() },
    hubUrls: [`nats-leaf://127.0.0.1:${leafPort}`],
    local: be,
    log: () => undefined,
    retryNotAppliedMs: 300,
  });
  stops.push(() => rt.stop());
  const nowS = Math.floor(Date.now() / 1000);
  const first = makePermit(grant, nowS);
  const second = makePermit({ ...grant, server: '10.70.0.6' }, nowS);
  // v1 grants both; the host fails to write the second.
  be.failOn.add('10.70.0.6');
  await mgr.manager.publish('permits', () => ({ permits: [first, second] }));
  await until('v1 refused as not-applied', () =>
    rt.follower.notInForce().some((f) => f.kind === 'permits' && f.version === 1),
  );
  assert.deepEqual(
    be.given.map((g) => g.flow.server),
    ['10.70.0.5'],
    'the first permit is live',
  );
  // An incident: the first is revoked (v2), while the second still fails.
  await mgr.manager.revokePermit(first.id);
  await until('v2 withdrew the first permit', () =>
    be.revoked.some((f) => f.server === '10.70.0.5'),
  );
  assert.deepEqual(be.revoked[0], {
    client: '10.70.0.100',
    server: '10.70.0.5',
    transport: 'tcp',
    port: 502,
  });
});

// Review 13, L10: a policy refused as not-applied that applies later on a retry comes after the permits judged
// meanwhile against the old one: a permit refused as "not its zone" (a zone only the new policy has) stayed
// refused until the manager published another permits version.
test('permits are judged again when a policy that applied on a retry puts their zone in force', async () => {
  const mdir = path.join(dir, 'manager-rejudge');
  addSite(openHome(mdir), 'a');
  const { mgr, leafPort } = await startManager(mdir, stops);
  class Flaky extends PermitBackend {
    broken = false;
    override apply(req: Parameters<PermitBackend['apply']>[0]): ReturnType<PermitBackend['apply']> {
      if (this.broken) return Promise.reject(new Error('br_netfilter is not loaded'));
      return super.apply(req);
    }
  }
  const be = new Flaky(policy('10.70.0.0/28'), ['10.90.0.5:502']);
  const rt = await NodeRuntime.start({
    kit: readSiteKit('a', path.join(mdir, 'sites', 'a')),
    dir: tempDir('site-rejudge'),
    client: { host: '127.0.0.1', port: await freePort() },
    hubUrls: [`nats-leaf://127.0.0.1:${leafPort}`],
    local: be,
    log: () => undefined,
    retryNotAppliedMs: 300,
    // As hostNeverBlock: the network and broadcast addresses of the zones in force are never blocked.
    neverBlock: () => ({
      addresses: [],
      subnets: (be.applied.at(-1) ?? '').includes('line2') ? ['10.90.0.0/28'] : [],
    }),
  });
  stops.push(() => rt.stop());
  // Policy v1 (zone cell) is in force; v2 adds zone line2 but this host cannot load it yet.
  await mgr.manager.publish('policy', () => ({ text: policy('10.70.0.0/28'), source: 'p1.yaml' }));
  await until('policy v1 applied', () => rt.follower.applied('policy')?.version === 1);
  be.broken = true;
  const two = `${policy('10.70.0.0/28')}  - { name: line2, members: [10.90.0.0/28], mode: enforce }\n`;
  await mgr.manager.publish('policy', () => ({ text: two, source: 'p2.yaml' }));
  await until('policy v2 refused', () =>
    rt.follower.notInForce().some((f) => f.kind === 'policy' && f.version === 2),
  );
  await mgr.manager.grantPermit({
    ...grant,
    zone: 'line2',
    server: '10.90.0.5',
    client: '10.90.0.100',
  });
  await until('permits v1 applied', () => rt.follower.applied('permits')?.version === 1);
  assert.equal(be.given.length, 0, 'refused: no zone line2 in the policy in force');
  // A block of what is line2's broadcast address passes under v1.
  await mgr.manager.block(
    { address: '10.90.0.15', ttlSeconds: 600, comment: 'spoofed' },
    'manager:root',
  );
  await until('blocklist v1 applied', () => be.blocks.has('10.90.0.15'));
  // The host can load it now: policy v2 applies on a retry, and the permit is judged again under it.
  be.broken = false;
  await until('policy v2 applied on a retry', () => rt.follower.applied('policy')?.version === 2);
  await until('the permit is granted under policy v2', () => be.given.length === 1);
  assert.equal(be.given[0]!.flow.server, '10.90.0.5');
  // The blocklist too: line2's broadcast address is never blocked under v2, so it is lifted, and not held.
  await until('the block is lifted under policy v2', () => !be.blocks.has('10.90.0.15'));
  assert.deepEqual(blocksInForce(rt.db, Math.floor(Date.now() / 1000)), []);
});
