// A full gateway sheds by who, not by count (review 12, R7). The client holding the most connections is, by
// construction, the plant's hub — a SCADA server polling many PLCs — so shedding the largest holder let anyone
// with spare addresses of an allowed range choose whose process view is cut, and then refuse its reconnects.
// Clients a group names by their own address, or a scoped permit names, are shed last and always admitted up to
// their own cap; connections that never carried a request, then range-admitted clients, give way first. The
// gateway still never holds more than its maximum: a flood is shed or refused, never waved through. The PLC is a
// TCP sink on a loopback address of its own; the gateway runs in this process.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { parsePolicy } from '../../src/policy/load.js';
import { CompiledPolicy } from '../../src/policy/evaluate.js';
import { Gateway } from '../../src/enforce/gateway/gateway.js';
import type { ScopedPermitRecord } from '../../src/enforce/permit-scopes.js';
import { sleep } from './lab-kit.js';

const base = `127.${20 + Math.floor(Math.random() * 200)}.${Math.floor(Math.random() * 250)}`;
const PLC = `${base}.21`,
  SCADA = `${base}.11`,
  LISTEN = `${base}.2`;
/** An HMI of the range that polls, and the range's spare addresses an attacker takes. */
const HMI = `${base}.33`;
const spare = (i: number): string => `${base}.${40 + i}`;
/** A vendor's laptop outside every group's range: a scoped permit lets it in (review 12b, B12). */
const VENDOR = `${base}.100`;
const VENDOR_PERMIT: ScopedPermitRecord = {
  flow: { client: VENDOR, server: PLC, transport: 'tcp', port: 502 },
  group: {
    name: 'permit-vendor',
    clients: [VENDOR],
    servers: [PLC],
    transport: 'tcp',
    ports: [502],
    protocol: 'modbus',
    functions: [3],
    access: 'read-only',
  },
  user: 'vendor',
  directory: 'ldap',
  template: 'vendor-read',
  until: Math.floor(Date.now() / 1000) + 3600,
  grantedAt: Math.floor(Date.now() / 1000),
};
const POLICY = `weir: policy/1
zones:
  - { name: sup, members: [${SCADA}, ${base}.32/27], mode: monitor }
  - { name: ctl, members: [${PLC}], mode: enforce }
conduits: [{ name: c, from: sup, to: ctl }]
groups:
  - { name: hmis, conduit: c, clients: [${SCADA}, ${base}.32/27], servers: [${PLC}], protocol: modbus, access: read-only }
`;
const READ = Buffer.from([0, 1, 0, 0, 0, 6, 1, 3, 0, 0, 0, 2]);

interface Sock {
  s: net.Socket;
  gone: boolean;
}

async function lab(
  max: number,
  body: (
    open: (from: string) => Promise<Sock>,
    gw: Gateway,
    ev: Array<Record<string, unknown>>,
  ) => Promise<void>,
): Promise<void> {
  const sink = net.createServer((s) => {
    s.on('error', () => undefined);
    s.resume();
  });
  await new Promise<void>((r) => sink.listen(502, PLC, r));
  const r = parsePolicy(POLICY, 'p.yaml');
  assert.ok(r.ok);
  const ev: Array<Record<string, unknown>> = [];
  const gw = new Gateway({
    policy: new CompiledPolicy(r.policy),
    targetsOf: () => [{ server: PLC, port: 502, protocol: 'modbus', listenIp: LISTEN }],
    listenIp: LISTEN,
    deny: 'exception',
    budgetMicros: 2000,
    maxConnections: max,
    perClientConnections: 16,
    log: (e) => ev.push(e),
    permits: { find: (client) => (client === VENDOR ? VENDOR_PERMIT : null) },
  });
  await gw.start();
  const port = gw.targets[0]!.listenPort;
  const socks: Sock[] = [];
  const open = (from: string): Promise<Sock> =>
    new Promise((res) => {
      const x: Sock = { s: net.connect({ host: LISTEN, port, localAddress: from }), gone: false };
      socks.push(x);
      x.s.on('connect', () => res(x));
      x.s.on('error', () => undefined);
      x.s.resume();
      x.s.on('close', () => {
        x.gone = true;
        res(x);
      });
    });
  try {
    await body(open, gw, ev);
  } finally {
    for (const x of socks) x.s.destroy();
    await gw.stop();
    await new Promise((r) => sink.close(r));
  }
}

test(
  'spare addresses of an allowed range filling the gateway do not cut the SCADA server a group names, nor refuse its reconnect',
  { timeout: 30_000 },
  async () => {
    await lab(12, async (open, gw, ev) => {
      const scada: Sock[] = [];
      for (let i = 0; i < 8; i++) scada.push(await open(SCADA));
      await sleep(100);
      const attackers: Sock[] = [];
      for (let a = 0; a < 12; a++) {
        attackers.push(await open(spare(a)));
        await sleep(20);
      }
      await sleep(300);
      assert.equal(scada.filter((x) => !x.gone).length, 8, 'SCADA keeps every connection');
      const again = await open(SCADA);
      await sleep(300);
      assert.equal(again.gone, false, 'SCADA reconnects although the gateway is full');
      assert.equal(attackers.filter((x) => !x.gone).length, 12 - 9, 'the range gave way');
      const shed = ev.filter((e) => e.reason === 'shed' || e.reason === 'gateway_full');
      assert.ok(shed.length >= 9);
      for (const e of shed) assert.notEqual(e.client, SCADA, JSON.stringify(e));
      assert.ok(gw.stats.shed >= 1);
    });
  },
);

test(
  'a range HMI that polls outlasts idle connections that never carried a request; the gateway never exceeds its maximum',
  { timeout: 30_000 },
  async () => {
    await lab(6, async (open, gw) => {
      // An HMI of the range with three connections, each carrying a read: the largest holder.
      const hmi: Sock[] = [];
      for (let i = 0; i < 3; i++) hmi.push(await open(HMI));
      for (const x of hmi) x.s.write(READ);
      await sleep(200);
      assert.equal(gw.stats.pdusForwarded, 3);
      const attackers: Sock[] = [];
      for (let a = 0; a < 10; a++) {
        attackers.push(await open(spare(a)));
        await sleep(20);
      }
      await sleep(300);
      assert.equal(hmi.filter((x) => !x.gone).length, 3, 'the polling HMI keeps its connections');
      assert.equal(
        attackers.filter((x) => !x.gone).length,
        3,
        'the gateway holds its maximum, no more',
      );
      // A newcomer of the range still gets in, in place of an idle one (even shares among the unnamed).
      const late = await open(spare(20));
      await sleep(200);
      assert.equal(late.gone, false);
      assert.equal(hmi.filter((x) => !x.gone).length, 3);
      assert.equal(attackers.filter((x) => !x.gone).length, 2);
    });
  },
);

test(
  'a scoped permit holder filling a full gateway never sheds the SCADA server a group names; it takes range connections only (review 12b, B12)',
  { timeout: 30_000 },
  async () => {
    await lab(12, async (open, gw, ev) => {
      const scada: Sock[] = [];
      for (let i = 0; i < 10; i++) scada.push(await open(SCADA));
      const hmi = await open(HMI);
      const idle = await open(spare(0));
      await sleep(100);
      // The vendor's laptop opens up to its own cap (16) while the gateway is full.
      const vendor: Sock[] = [];
      for (let i = 0; i < 16; i++) {
        vendor.push(await open(VENDOR));
        await sleep(20);
      }
      await sleep(300);
      assert.equal(scada.filter((x) => !x.gone).length, 10, 'SCADA keeps every connection');
      assert.equal(idle.gone, true, 'a range connection gave way to the permit holder');
      assert.equal(hmi.gone, true, 'so did the range HMI');
      assert.equal(
        vendor.filter((x) => !x.gone).length,
        2,
        'the permit holder got the range places only',
      );
      for (const e of ev.filter((x) => x.reason === 'shed'))
        assert.notEqual(e.client, SCADA, JSON.stringify(e));
      const full = ev.filter((e) => e.reason === 'gateway_full' && e.client === VENDOR);
      assert.equal(full.length, 14);
      assert.equal(full[0]!.rank, 'permit');
      // SCADA, short of its cap, reconnects in place of a permit holder's connection.
      const again = await open(SCADA);
      await sleep(300);
      assert.equal(again.gone, false, 'SCADA reconnects although the gateway is full');
      assert.equal(vendor.filter((x) => !x.gone).length, 1);
      const shed = ev.filter((e) => e.reason === 'shed').at(-1)!;
      assert.equal(shed.client, VENDOR);
      assert.equal(shed.why, 'permit holder, holding the most');
      assert.ok(gw.stats.shed >= 3);
    });
  },
);
