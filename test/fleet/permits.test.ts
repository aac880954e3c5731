// Fleet permits: granted on the manager, signed into the permits document, applied at each site into its
// scoped permit set with the time left (the kernel timeout), checked against the site's own zone; revoked
// at once; refused at the manager when out of scope and at a site when run out or not its zone.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { rmSync } from 'node:fs';
import { applyPermits } from '../../src/fleet/apply-permits.js';
import { addSite, openHome, readSiteKit } from '../../src/fleet/home.js';
import { ManagerRuntime } from '../../src/fleet/manager-runtime.js';
import { NodeRuntime } from '../../src/fleet/node-runtime.js';
import { makePermit, type FleetPermit } from '../../src/fleet/permit-doc.js';
import type {
  HostStatus,
  PermitFlow,
  PermitResult,
  PermitScope,
} from '../../src/enforce/backend.js';
import { freePort, MemoryBackend, tempDir, until } from './fleet-kit.js';

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
  override permit(
    flow: PermitFlow,
    ttlSeconds: number,
    comment = '',
    scope?: PermitScope,
  ): Promise<PermitResult> {
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
      applied: { text: this.text, sha: 'x' },
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
  const leafPort = await freePort();
  const logs: string[] = [];
  const mgr = await ManagerRuntime.start({
    dir: mdir,
    client: { host: '127.0.0.1', port: await freePort() },
    leaf: { host: '127.0.0.1', port: leafPort },
    log: (m) => logs.push(m),
  });
  stops.push(() => mgr.stop());
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
  await applyPermits(be, doc, null, {
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
  await applyPermits(bare, doc, null, { site: 'a', onPermitRefused: (_p, w) => why.push(w) });
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
  await applyPermits(unsteered, doc, null, {
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
  await applyPermits(steered, doc, null, { site: 'a' });
  assert.equal(steered.given.length, 2);
  assert.ok(steered.given[0]!.scope !== undefined);
});
