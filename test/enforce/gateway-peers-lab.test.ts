// The gateway in front of real peers in a network namespace of their own (the "PLC" host): a node-opcua server
// driven by a node-opcua client, a pymodbus server with a UMAS (FC 90) handler, and minimal FINS/TCP, SLMP and
// ISO-on-TCP MMS responders written for this test (no such server runs here). Each peer prints what reached it:
// a refused request must never appear there, and the peer's state must not change (the OPC UA setpoint keeps
// its value, the Modicon keeps running). The gateway runs in this process on the host side of the veth pair.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import net from 'node:net';
import path from 'node:path';
import { parsePolicy } from '../../src/policy/load.js';
import { CompiledPolicy } from '../../src/policy/evaluate.js';
import { Gateway } from '../../src/enforce/gateway/gateway.js';
import { repoRoot } from '../helpers/paths.js';
import { sleep } from './lab-kit.js';
import { connectRequest, cotpConnect, mmsExchanges } from '../fixtures-gen/mms-session.js';
import {
  dm,
  dWords,
  FINS,
  finsCommand,
  finsHello,
  SLMP,
  slmp,
  UMAS,
  umas,
} from './gateway-frames.js';

const OPCUA_LAB = path.join(repoRoot, 'scripts/opcua-lab');
const tag = `pgw${process.pid % 10000}`;
const net3 = `10.89.${process.pid % 200}`;
const GW = `${net3}.1`, // the gateway, and the HMI's address
  PLC = `${net3}.20`;
const POLICY = `weir: policy/1
zones:
  - { name: sup, members: [${GW}], mode: monitor }
  - { name: ctl, members: [${PLC}], mode: enforce }
conduits: [{ name: c, from: sup, to: ctl }]
groups:
  - { name: hmi-opcua, conduit: c, clients: [${GW}], servers: [${PLC}], protocol: opcua }
  - { name: hmi-umas, conduit: c, clients: [${GW}], servers: [${PLC}], protocol: modbus,
      functions: [umas_read_id, umas_read_plc_info] }
  - { name: hmi-fins, conduit: c, clients: [${GW}], servers: [${PLC}], protocol: fins, transport: tcp }
  - { name: hmi-slmp, conduit: c, clients: [${GW}], servers: [${PLC}], protocol: slmp,
      functions: [device_read, device_write], access: read-write, addresses: { D: [100-199] } }
  - { name: hmi-mms, conduit: c, clients: [${GW}], servers: [${PLC}], protocol: mms }
`;

/** A process in the PLC namespace whose stdout lines are kept. */
interface Peer {
  proc: ChildProcess;
  lines: string[];
}
function inPlc(cmd: string, args: string[], cwd?: string): Peer {
  const proc = spawn('ip', ['netns', 'exec', tag, cmd, ...args], { cwd });
  const p: Peer = { proc, lines: [] };
  let rest = '';
  proc.stdout!.on('data', (d: Buffer) => {
    const parts = (rest + d.toString()).split('\n');
    rest = parts.pop()!;
    p.lines.push(...parts);
  });
  proc.stderr!.resume();
  return p;
}

async function until(
  what: string,
  f: () => boolean | Promise<boolean>,
  ms = 30_000,
): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await f()) return;
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what}`);
}

const reachable = (port: number): Promise<boolean> =>
  new Promise((res) => {
    const s = net.connect({ host: PLC, port }, () => {
      s.destroy();
      res(true);
    });
    s.on('error', () => res(false));
  });

/** Send each chunk through the gateway (a pause between them: separate TCP segments), collect the answers. */
async function session(
  port: number,
  chunks: Uint8Array[],
): Promise<{ answers: Buffer; closed: boolean }> {
  const sock = net.connect({ host: GW, port, noDelay: true });
  let answers = Buffer.alloc(0),
    closed = false;
  sock.on('data', (d: Buffer) => (answers = Buffer.concat([answers, d])));
  sock.on('error', () => undefined);
  sock.on('close', () => (closed = true));
  await new Promise<void>((r) => sock.once('connect', () => r()));
  for (const c of chunks) {
    if (closed) break;
    sock.write(c);
    await sleep(30);
  }
  await sleep(400);
  sock.destroy();
  return { answers, closed };
}

/**
 * The OPC UA client's JSON lines for a run of steps through `url` (a child process, waited for without blocking:
 * the gateway runs in this process).
 */
async function opcua(
  url: string,
  pki: string,
  security: string,
  ...steps: string[]
): Promise<Array<Record<string, unknown>>> {
  const { stdout } = await promisify(execFile)(
    'node',
    ['gateway-client.mjs', url, pki, security, ...steps],
    { cwd: OPCUA_LAB, encoding: 'utf8', timeout: 60_000 },
  );
  return stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

test(
  'gateway with real peers: refused OPC UA, UMAS, FINS, SLMP and MMS requests never reach the device, allowed ones do',
  { timeout: 240_000 },
  async (t) => {
    if (process.getuid?.() !== 0) {
      if (process.env.CI === 'true')
        throw new Error('the lab needs root (namespaces, port 102 and 502)');
      return t.skip('needs root (network namespaces)');
    }
    if (!existsSync(path.join(OPCUA_LAB, 'node_modules/node-opcua'))) {
      if (process.env.CI === 'true')
        throw new Error(
          'node-opcua is not installed in scripts/opcua-lab (scripts/install-deps.sh)',
        );
      return t.skip('node-opcua not installed: (cd scripts/opcua-lab && npm ci)');
    }
    const work = mkdtempSync(path.join(tmpdir(), 'weir-gw-peers-'));
    const ip = (...a: string[]): void => void execFileSync('ip', a, { stdio: 'ignore' });
    const peers: Peer[] = [];
    let gw: Gateway | null = null;
    try {
      ip('netns', 'add', tag);
      ip('link', 'add', `${tag}h`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', tag);
      ip('addr', 'add', `${GW}/24`, 'dev', `${tag}h`);
      ip('link', 'set', `${tag}h`, 'up');
      ip('-n', tag, 'addr', 'add', `${PLC}/24`, 'dev', 'eth0');
      ip('-n', tag, 'link', 'set', 'eth0', 'up');
      ip('-n', tag, 'link', 'set', 'lo', 'up');

      const plc = inPlc('/usr/bin/python3', [
        path.join(repoRoot, 'test/enforce/gateway-umas-plc.py'),
        PLC,
      ]);
      const opc = inPlc('node', ['server.mjs', '4840', path.join(work, 'pki-server')], OPCUA_LAB);
      const resp = inPlc('node', [
        path.join(repoRoot, 'dist/test/enforce/gateway-responder.js'),
        PLC,
      ]);
      peers.push(plc, opc, resp);
      await until('the peers', async () => {
        for (const port of [502, 4840, 9600, 5007, 102]) if (!(await reachable(port))) return false;
        return true;
      });

      const events: Array<Record<string, unknown>> = [];
      const r = parsePolicy(POLICY, 'p.yaml');
      assert.ok(r.ok, JSON.stringify(!r.ok && r.errors));
      gw = new Gateway({
        policy: new CompiledPolicy(r.policy),
        targetsOf: () =>
          (
            [
              [502, 'modbus'],
              [4840, 'opcua'],
              [9600, 'fins'],
              [5007, 'slmp'],
              [102, 'mms'],
            ] as const
          ).map(([port, protocol]) => ({ server: PLC, port, protocol, listenIp: GW })),
        listenIp: GW,
        deny: 'exception',
        budgetMicros: 2000,
        log: (e) => events.push(e),
      });
      await gw.start();
      const portOf = (p: number): number => gw!.targets.find((x) => x.port === p)!.listenPort;

      // ---- UMAS: reads pass; STOP (whole, and cut byte by byte) is answered by the gateway, never the PLC ----
      const stop = umas(2, UMAS.STOP_PLC);
      const u = await session(portOf(502), [
        umas(1, UMAS.READ_ID),
        stop,
        ...[...stop].map((b) => Uint8Array.of(b)),
        umas(3, UMAS.READ_PLC_INFO),
        umas(4, UMAS.DOWNLOAD_BLOCK, [1, 0, 1, 0, 0xaa]),
        umas(5, UMAS.READ_ID),
      ]);
      assert.equal(u.closed, false);
      const umasSeen = plc.lines.filter((l) => l.startsWith('umas'));
      assert.deepEqual(
        umasSeen,
        ['umas 0x02', 'umas 0x04', 'umas 0x02'],
        'only the reads reached the PLC',
      );
      // READ_ID ok, STOP ×2 ILLEGAL FUNCTION from the gateway, READ_PLC_INFO says still running, download refused.
      const frames: string[] = [];
      for (let o = 0; o < u.answers.length; o += 6 + u.answers.readUInt16BE(o + 4))
        frames.push(hex(u.answers.subarray(o, o + 6 + u.answers.readUInt16BE(o + 4))));
      // The gateway answers a refusal at once, the PLC a moment later: Modbus pairs them by transaction id.
      assert.deepEqual(frames.sort(), [
        '000100000004015a00fe',
        '00020000000301da01',
        '00020000000301da01',
        '000300000005015a00fe01', // READ_PLC_INFO: still running
        '00040000000301da01',
        '000500000004015a00fe',
      ]);

      // ---- FINS/TCP: handshake and reads pass, a write, STOP and RUN never reach the PLC ----
      const fStop = finsCommand(2, FINS.STOP, [0xff, 0xff]);
      const fWrite = finsCommand(3, FINS.MEMORY_WRITE, dm(100, 1, [1500]));
      const fRun = finsCommand(4, FINS.RUN, [0xff, 0xff, 0x04]);
      const fRead = finsCommand(5, FINS.MEMORY_READ, dm(100, 2));
      const f = await session(portOf(9600), [
        finsHello(),
        finsCommand(1, FINS.MEMORY_READ, dm(0, 1)),
        fStop,
        Buffer.concat([fWrite, fRun, fRead]), // pipelined
        ...[...fStop].map((b) => Uint8Array.of(b)),
        fRead,
      ]);
      assert.equal(f.closed, false);
      const finsSeen = resp.lines.filter((l) => l.startsWith('fins ')).map((l) => l.slice(5));
      assert.deepEqual(finsSeen, [
        hex(finsHello()),
        hex(finsCommand(1, FINS.MEMORY_READ, dm(0, 1))),
        hex(fRead),
        hex(fRead),
      ]);

      // ---- SLMP: D100..199 reads and writes pass; STOP, RUN and D300 never reach the PLC ----
      const sStop = slmp(SLMP.REMOTE_STOP, 0, [1, 0]);
      const sRead = slmp(SLMP.DEVICE_READ, 0, dWords(100, 3));
      const sWrite = slmp(SLMP.DEVICE_WRITE, 0, dWords(150, 1, [7]));
      const sFar = slmp(SLMP.DEVICE_WRITE, 0, dWords(300, 1, [7]));
      const s = await session(portOf(5007), [
        sRead,
        sStop,
        Buffer.concat([sFar, sWrite]),
        ...[...sStop].map((b) => Uint8Array.of(b)),
        slmp(SLMP.REMOTE_RUN, 0, [1, 0, 0, 0]),
        sRead,
      ]);
      assert.equal(s.closed, false);
      const slmpSeen = resp.lines.filter((l) => l.startsWith('slmp ')).map((l) => l.slice(5));
      assert.deepEqual(slmpSeen, [hex(sRead), hex(sWrite), hex(sRead)]);

      // ---- MMS: association, identify, getNameList, read pass; the breaker operate never reaches the IED ----
      const client = mmsExchanges()
        .filter(([toServer]) => toServer)
        .map(([, b]) => b);
      const operate = client.find((b) => b.includes(Buffer.from('CSWI1$CO$Pos$Oper')))!;
      const m = await session(portOf(102), [
        cotpConnect(0xe0),
        connectRequest(),
        ...client.slice(0, 5),
        operate,
        ...[...operate].map((b) => Uint8Array.of(b)),
        client[4]!,
      ]);
      assert.equal(m.closed, false);
      const mmsSeen = resp.lines.filter((l) => l.startsWith('mms ')).map((l) => l.slice(4));
      assert.deepEqual(mmsSeen, [
        hex(cotpConnect(0xe0)),
        hex(connectRequest()),
        ...client.slice(0, 5).map(hex),
        hex(client[4]!),
      ]);
      assert.ok(!mmsSeen.includes(hex(operate)));

      // ---- OPC UA with node-opcua: the HMI reads; its Write, then its Call, end the connection unanswered ----
      const gwUrl = `opc.tcp://${GW}:${portOf(4840)}`;
      const pki = path.join(work, 'pki-client');
      const hmi = await opcua(gwUrl, pki, 'None', 'read', 'write:99', 'read');
      assert.deepEqual(hmi[0], { step: 'session', ok: true });
      assert.deepEqual(hmi[1], { step: 'read', ok: true, value: 72.5 });
      assert.equal(hmi[2]!.ok, false, JSON.stringify(hmi[2]));
      assert.equal(hmi[3]!.ok, false, 'the refused Write closed the connection');
      const call = await opcua(gwUrl, pki, 'None', 'call');
      assert.equal(call[1]!.ok, false, JSON.stringify(call[1]));
      // Asked directly, the server still holds the setpoint it had: the Write never reached it.
      const direct = `opc.tcp://${PLC}:4840`;
      assert.deepEqual((await opcua(direct, pki, 'None', 'read'))[1], {
        step: 'read',
        ok: true,
        value: 72.5,
      });
      const opcDenied = events.filter((e) => e.event === 'denied' && e.protocol === 'opcua');
      assert.deepEqual(
        opcDenied.map((e) => [e.func_name, e.reason]),
        [
          ['WriteRequest', 'write_not_allowed'],
          ['CallRequest', 'write_not_allowed'],
        ],
      );
      // A SignAndEncrypt channel from the HMI: refused at its OPN, audited as such.
      const secured = await opcua(gwUrl, pki, 'SignAndEncrypt', 'read');
      assert.equal(secured[0]!.ok, false, JSON.stringify(secured));
      assert.ok(
        events.some(
          (e) =>
            e.event === 'denied' &&
            e.reason === 'secured_channel' &&
            e.client === GW &&
            e.security_policy === 'Basic256Sha256' &&
            /cannot be read/.test(String(e.why)),
        ),
      );
      // A policy whose HMI group allows secured channels (and writes): the encrypted Write passes, unjudged.
      const wider = parsePolicy(
        POLICY.replace(
          `servers: [${PLC}], protocol: opcua }`,
          `servers: [${PLC}], protocol: opcua, access: read-write, secured_channels: allow }`,
        ),
        'p.yaml',
      );
      assert.ok(wider.ok);
      await gw.reload(new CompiledPolicy(wider.policy));
      const ews = await opcua(gwUrl, pki, 'SignAndEncrypt', 'read', 'write:80', 'read');
      assert.deepEqual(
        ews.map((x) => [x.step, x.ok, x.value]),
        [
          ['session', true, undefined],
          ['read', true, 72.5],
          ['write:80', true, undefined],
          ['read', true, 80],
        ],
      );
      assert.equal(gw.stats.failOpen, 0);
    } finally {
      await gw?.stop();
      for (const p of peers) p.proc.kill('SIGKILL');
      try {
        ip('netns', 'del', tag);
      } catch {
        /* already gone */
      }
      rmSync(work, { recursive: true, force: true });
    }
  },
);
