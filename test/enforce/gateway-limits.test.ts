// A client that opens connection after connection through the gateway, and leaves them idle, must not exhaust
// it: past its cap its new connections are refused (for it alone, and never reach the PLC), idle ones are closed,
// and another client's polling goes on throughout. The PLC is a real pymodbus server on a loopback address of
// its own; the gateway runs in this process.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { parsePolicy } from '../../src/policy/load.js';
import { CompiledPolicy } from '../../src/policy/evaluate.js';
import { Gateway } from '../../src/enforce/gateway/gateway.js';
import { repoRoot } from '../helpers/paths.js';
import { sleep } from './lab-kit.js';

const base = `127.${20 + Math.floor(Math.random() * 200)}.${Math.floor(Math.random() * 250)}`;
const PLC = `${base}.21`,
  ATTACKER = `${base}.10`,
  HMI = `${base}.11`,
  LISTEN = `${base}.2`;
const POLICY = `weir: policy/1
zones:
  - { name: sup, members: [${ATTACKER}, ${HMI}], mode: monitor }
  - { name: ctl, members: [${PLC}], mode: enforce }
conduits: [{ name: c, from: sup, to: ctl }]
groups:
  - { name: hmi, conduit: c, clients: [${ATTACKER}, ${HMI}], servers: [${PLC}], protocol: modbus, access: read-only }
`;

/** Modbus/TCP read holding registers 0..1, unit 1. */
const READ = (tid: number): Buffer =>
  Buffer.from([tid >> 8, tid & 255, 0, 0, 0, 6, 1, 3, 0, 0, 0, 2]);

interface Client {
  sock: net.Socket;
  closed: boolean;
  /** Resolves with the register values of the next answer. */
  read: () => Promise<number[]>;
}

function connect(localAddress: string, port: number): Promise<Client> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: LISTEN, port, localAddress }, () => resolve(c));
    let buf = Buffer.alloc(0);
    let waiting: ((v: number[]) => void) | null = null;
    let tid = 0;
    const c: Client = {
      sock,
      closed: false,
      read: () =>
        new Promise((res, rej) => {
          if (c.closed) return rej(new Error('closed'));
          waiting = res;
          sock.write(READ(++tid));
          setTimeout(() => rej(new Error('no answer')), 3000).unref();
        }),
    };
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length >= 13 && waiting) {
        const w = waiting;
        waiting = null;
        w([buf.readUInt16BE(9), buf.readUInt16BE(11)]);
        buf = buf.subarray(13);
      }
    });
    // A reset can come before the connect completes (loopback is quick): that client is simply closed.
    sock.on('error', () => undefined);
    sock.on('close', () => {
      c.closed = true;
      resolve(c);
    });
  });
}

/** Established TCP connections the PLC holds (ss, as the PLC's host sees them). */
function plcConnections(): number {
  const out = execFileSync('ss', ['-Htn', 'state', 'established', 'src', PLC], {
    encoding: 'utf8',
  });
  return out.split('\n').filter((l) => l.includes(`${PLC}:502`)).length;
}

test(
  'gateway limits: past its cap a client is refused (alone, never reaching the PLC); idle connections are closed',
  { timeout: 60_000 },
  async (t) => {
    if (process.getuid?.() !== 0) {
      if (process.env.CI === 'true') throw new Error('the lab PLC listens on port 502: needs root');
      return t.skip('needs root (the lab PLC listens on port 502)');
    }
    const plc = spawn('/usr/bin/python3', [
      path.join(repoRoot, 'test/lab/agents/modbus_server.py'),
      PLC,
    ]);
    plc.stdout.resume();
    plc.stderr.resume();
    const events: Array<Record<string, unknown>> = [];
    const r = parsePolicy(POLICY, 'p.yaml');
    assert.ok(r.ok);
    const gw = new Gateway({
      policy: new CompiledPolicy(r.policy),
      targetsOf: () => [{ server: PLC, port: 502, protocol: 'modbus', listenIp: LISTEN }],
      listenIp: LISTEN,
      deny: 'exception',
      budgetMicros: 2000,
      log: (e) => events.push(e),
      perClientConnections: 5,
      idleSeconds: 3,
    });
    try {
      for (let i = 0; i < 50; i++) {
        const ok = await new Promise<boolean>((res) => {
          const s = net.connect({ host: PLC, port: 502 }, () => {
            s.destroy();
            res(true);
          });
          s.on('error', () => res(false));
        });
        if (ok) break;
        await sleep(200);
      }
      await gw.start();
      const port = gw.targets[0]!.listenPort;
      const hmi = await connect(HMI, port);
      assert.deepEqual(
        await hmi.read(),
        [10, 20],
        'the HMI reads the real PLC through the gateway (pymodbus counts from 1)',
      );
      const before = plcConnections();

      // The attacker opens twice its cap, all at once.
      const flood = await Promise.all(Array.from({ length: 10 }, () => connect(ATTACKER, port)));
      await sleep(500);
      const open = flood.filter((c) => !c.closed);
      assert.equal(open.length, 5, 'the cap holds');
      assert.equal(gw.stats.capped, 5);
      const refusals = events.filter((e) => e.reason === 'per_client_cap');
      assert.equal(refusals.length, 5);
      assert.deepEqual(
        { ...refusals[0], server: undefined },
        {
          event: 'connection_refused',
          client: ATTACKER,
          server: undefined,
          port: 502,
          reason: 'per_client_cap',
          open: 5,
          cap: 5,
        },
      );
      assert.equal(plcConnections() - before, 5, 'refused connections never reach the PLC');
      // Every connection it was allowed works; the other client is untouched and polls on.
      for (const c of open) assert.deepEqual(await c.read(), [10, 20]);
      assert.deepEqual(await hmi.read(), [10, 20]);
      // Closing one frees one place.
      open[0]!.sock.destroy();
      await sleep(200);
      const again = await connect(ATTACKER, port);
      await sleep(200);
      assert.equal(again.closed, false, 'a freed place can be taken again');
      const over = await connect(ATTACKER, port);
      await sleep(200);
      assert.equal(over.closed, true, 'the one after is refused again');
      assert.equal(gw.stats.capped, 6);

      // Idle: the attacker's connections go quiet and are closed; the HMI, polling, keeps its connection.
      const poll = setInterval(() => void hmi.read().catch(() => undefined), 300);
      await sleep(5000);
      clearInterval(poll);
      assert.ok(
        [...open.slice(1), again].every((c) => c.closed),
        'idle connections closed',
      );
      assert.equal(hmi.closed, false, 'the polling HMI keeps its connection');
      assert.deepEqual(await hmi.read(), [10, 20]);
      assert.ok(gw.stats.idleClosed >= 5, JSON.stringify(gw.stats));
      assert.ok(
        events.some(
          (e) => e.event === 'connection_closed' && e.reason === 'idle' && e.client === ATTACKER,
        ),
      );
      assert.ok(!events.some((e) => e.reason === 'idle' && e.client === HMI));
      // With its connections gone, the attacker may connect again (the cap counts open connections only).
      const later = await connect(ATTACKER, port);
      assert.deepEqual(await later.read(), [10, 20]);
      later.sock.destroy();
      hmi.sock.destroy();
    } finally {
      await gw.stop();
      plc.kill('SIGKILL');
    }
  },
);
