// Attacks on the gateway in the lab with the real PLCs: hostile framing, fragmented S7 jobs, a policy change
// under a running gateway, and limits nothing would enforce.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { canBuildLab, HOSTS, Plant } from '../lab/plant.js';
import { startPlcs } from '../lab/scenario.js';
import { repoRoot } from '../helpers/paths.js';
import { readHealth } from '../../src/enforce/state.js';
import {
  cotpData,
  dnp3Request,
  crob,
  enip,
  modbusRequest,
  s7Job,
  s7PlcStop,
  s7WriteVar,
  sendRRData,
  cipRequest,
  registerSession,
} from '../helpers/ics-frames.js';
import { agent, cli, GATEWAY_IP, labPolicyStore, plantPolicy, sleep } from './lab-kit.js';

const modbusServer = path.join(repoRoot, 'test/lab/agents/modbus_server.py');
const hex = (b: Uint8Array | number[]): string => Buffer.from(b).toString('hex');
const policy = plantPolicy;

// The historian may read everything in the control zone (a zone as servers: steered server by server), on
// every protocol the gateway reads; DNP3 and EtherNet/IP meet a recording stand-in on PLC-1 (no real peer here).
const HISTORIAN = `  - { name: hist-modbus, conduit: sup-ctl, clients: [HIST-1], servers: [control], protocol: modbus }
  - { name: hist-s7, conduit: sup-ctl, clients: [HIST-1], servers: [PLC-2], protocol: s7comm }
  - { name: hist-dnp3, conduit: sup-ctl, clients: [HIST-1], servers: [PLC-1], protocol: dnp3 }
  - { name: hist-enip, conduit: sup-ctl, clients: [HIST-1], servers: [PLC-1], protocol: enip }
  - { name: ews, conduit: sup-ctl, clients: [EWS-1], servers: [PLC-2], protocol: s7comm, access: read-write }
`;
const HMI_TO_PLC2 = `  - { name: hmi-plc2, conduit: sup-ctl, clients: [HMI-1], servers: [PLC-2], protocol: modbus, access: read-write }
`;
const HMI_TO_PLC1 = `  - { name: hmi-plc1, conduit: sup-ctl, clients: [HMI-1], servers: [PLC-1], protocol: modbus, access: read-write }
`;

interface Raw {
  sent: number;
  answers: string[];
  closed: boolean;
}
interface Probe {
  op: string;
  ok: boolean;
  data?: number[];
  modbusCode?: number | null;
}

// S7 session set-up as a real client sends it: COTP connection request, then setup communication.
const COTP_CR = Uint8Array.from([
  3, 0, 0, 22, 17, 0xe0, 0, 0, 0, 1, 0, 0xc1, 2, 1, 0, 0xc2, 2, 1, 2, 0xc0, 1, 0x0a,
]);
const SETUP = cotpData(s7Job(1, [0xf0, 0, 0, 1, 0, 1, 0x01, 0xe0]));

test(
  'attacks on the gateway with the real PLCs: hostile framing, fragmented S7 jobs, a policy change, unenforceable limits',
  { timeout: 300_000 },
  async (t) => {
    if (!canBuildLab()) {
      if (process.env.CI === 'true') throw new Error('the enforcement lab needs root and iproute2');
      return t.skip('needs root to build network namespaces');
    }
    const dir = mkdtempSync(path.join(tmpdir(), 'weir-bypass-'));
    const stateDir = path.join(dir, 'state');
    const lab = Plant.up();
    const weir = (...args: string[]): string =>
      lab.exec('fw', process.execPath, [cli, ...args, '--state-dir', stateDir], {
        timeoutMs: 30_000,
      });
    const apply = async (text: string, ...extra: string[]): Promise<string> =>
      weir(
        'enforce',
        'apply',
        ...(await labPolicyStore(dir, text)),
        '--family',
        'bridge',
        '--bridge',
        'br0',
        ...extra,
      );
    const raw = (
      host: Parameters<Plant['exec']>[0],
      port: number,
      ...chunks: Array<Uint8Array | number[]>
    ): Raw =>
      JSON.parse(
        lab.exec(
          host,
          process.execPath,
          [agent, 'raw', port === 102 ? HOSTS.plc2 : HOSTS.plc1, String(port), ...chunks.map(hex)],
          { timeoutMs: 30_000 },
        ),
      ) as Raw;
    const modbusRead = (host: Parameters<Plant['exec']>[0], plc: string, reg: number): Probe =>
      JSON.parse(
        lab
          .exec(host, process.execPath, [agent, 'probe', plc, `read:${reg}:1`], {
            timeoutMs: 20_000,
          })
          .trim(),
      ) as Probe;
    const s7Read = (start: number): number[] | undefined =>
      (
        JSON.parse(
          lab
            .exec('ews', process.execPath, [agent, 's7probe', HOSTS.plc2, `read:1:${start}:1`], {
              timeoutMs: 30_000,
            })
            .trim()
            .split('\n')[0]!,
        ) as Probe
      ).data;
    try {
      await startPlcs(lab);
      // PLC-2 also speaks Modbus (another pymodbus, registers offset by 1000) for the policy-change attack.
      lab.spawn('plc2', '/usr/bin/python3', [modbusServer, HOSTS.plc2, '1000']).stdout!.resume();
      const sink = lab.spawn('plc1', process.execPath, [agent, 'sink', '20000', '44818']);
      const sunk: Array<{ port: number; hex: string }> = [];
      sink.stdout!.on('data', (d: Buffer) =>
        sunk.push(
          ...d
            .toString()
            .trim()
            .split('\n')
            .filter(Boolean)
            .map((l) => JSON.parse(l) as { port: number; hex: string }),
        ),
      );
      lab.exec('fw', 'ip', ['addr', 'add', `${GATEWAY_IP}/24`, 'dev', 'br0']);
      await sleep(1000);

      // 6. Without a gateway, protocol limits would silently become port allows: refused, naming the groups.
      let refused = '';
      try {
        await apply(policy(HISTORIAN));
      } catch (e) {
        refused = String((e as { stderr?: Buffer }).stderr ?? e);
      }
      assert.match(
        refused,
        /refusing to enforce[\s\S]*group hist-modbus: .*no gateway is given/,
        refused,
      );
      assert.match(refused, /group hist-dnp3/);
      // UDP DNP3 with limits: nothing could check them.
      let udp = '';
      try {
        await apply(
          policy(
            `${HISTORIAN}  - { name: dnp3-udp, conduit: sup-ctl, clients: [HIST-1], servers: [PLC-1], protocol: dnp3, transport: udp }\n`,
          ),
          '--gateway-ip',
          GATEWAY_IP,
        );
      } catch (e) {
        udp = String((e as { stderr?: Buffer }).stderr ?? e);
      }
      assert.match(udp, /group dnp3-udp: the gateway reads .* not dnp3 over udp/, udp);

      const applied = await apply(policy(HISTORIAN + HMI_TO_PLC2), '--gateway-ip', GATEWAY_IP);
      assert.match(applied, /steered to the gateway/);
      const gw = lab.spawn('fw', process.execPath, [
        cli,
        'gateway',
        '--listen',
        GATEWAY_IP,
        '--state-dir',
        stateDir,
        '--log',
        path.join(dir, 'gw.jsonl'),
      ]);
      gw.stdout!.resume();
      for (let i = 0; i < 100 && !readHealth(stateDir)?.steering.ok; i++) await sleep(100);
      assert.equal(readHealth(stateDir)?.steering.ok, true, 'gateway up');
      assert.deepEqual(
        modbusRead('historian', HOSTS.plc1, 5).data,
        [60],
        'the historian reads PLC-1 (a zone as servers is steered server by server)',
      );

      // 2. Framing bypasses: hostile framing first, then a write; the connection is closed and the PLC unchanged.
      const write5 = modbusRequest(2, 6, [0, 5, 0, 99]);
      for (const junk of [
        modbusRequest(1, 3, [0, 0, 0, 1], { protocol: 1 }),
        modbusRequest(1, 3, [], { length: 1 }),
      ]) {
        const r = raw('historian', 502, junk, write5);
        assert.equal(r.closed, true, JSON.stringify(r));
        assert.deepEqual(r.answers, [], 'nothing came back from the PLC');
      }
      assert.deepEqual(modbusRead('historian', HOSTS.plc1, 5).data, [60], 'register 5 untouched');
      const s7 = raw(
        'historian',
        102,
        COTP_CR,
        SETUP,
        cotpData(s7Job(3, [0xf0, 0, 0, 1, 0, 1, 0x01, 0xe0]), { version: 2 }),
        cotpData(s7WriteVar(4, 1, 8, [99])),
      );
      assert.equal(s7.closed, true, JSON.stringify(s7));
      assert.equal(
        s7.answers.length,
        2,
        'the PLC answered the connection request and the setup, nothing after the junk',
      );
      const dnp = raw('historian', 20000, [0x00], dnp3Request(5, crob(0)));
      const enipR = raw(
        'historian',
        44818,
        registerSession(),
        enip(0x99, 0, [1, 2, 3, 4]),
        sendRRData(1, cipRequest(0x10, 0x01, 1, 7, [1])),
      );
      assert.equal(dnp.closed, true);
      assert.equal(enipR.closed, true);
      await sleep(300);
      assert.deepEqual(
        sunk.filter((s) => s.port === 20000),
        [],
        'no DNP3 byte reached the outstation',
      );
      assert.deepEqual(
        sunk.filter((s) => s.port === 44818).map((s) => s.hex),
        [hex(registerSession())],
        'only the session registration reached the EtherNet/IP device',
      );

      // 3. S7 jobs in COTP fragments: judged whole. The historian's fragmented write and PLC stop never arrive.
      const w = s7WriteVar(5, 1, 8, [99]);
      const frag = raw(
        'historian',
        102,
        COTP_CR,
        SETUP,
        cotpData(w.slice(0, 12), { eot: false }),
        cotpData(w.slice(12)),
      );
      assert.equal(frag.closed || frag.answers.length === 2, true, JSON.stringify(frag));
      const stop = s7PlcStop(6);
      raw(
        'historian',
        102,
        COTP_CR,
        SETUP,
        cotpData(stop.slice(0, 8), { eot: false }),
        cotpData(stop.slice(8, 14), { eot: false }),
        cotpData(stop.slice(14)),
      );
      assert.deepEqual(s7Read(8), [8], 'DB1.DBB8 unchanged');
      const running = JSON.parse(
        lab
          .exec('ews', process.execPath, [agent, 's7probe', HOSTS.plc2, 'read:1:0:2'], {
            timeoutMs: 30_000,
          })
          .trim(),
      ) as Probe;
      assert.equal(running.ok, true, 'the PLC still runs and answers');

      // 5. A policy change under a running gateway: the HMI's write meant for PLC-1 lands on PLC-1 (old code: on PLC-2).
      const before2 = modbusRead('hmi', HOSTS.plc2, 100).data;
      const changed = await apply(
        policy(HISTORIAN + HMI_TO_PLC1 + HMI_TO_PLC2),
        '--gateway-ip',
        GATEWAY_IP,
      );
      assert.match(changed, /the running gateway switched to this policy first/, changed);
      const wrote = JSON.parse(
        lab
          .exec('hmi', process.execPath, [agent, 'probe', HOSTS.plc1, 'write:100:4242'], {
            timeoutMs: 20_000,
          })
          .trim(),
      ) as Probe;
      assert.equal(wrote.ok, true, JSON.stringify(wrote));
      assert.deepEqual(modbusRead('hmi', HOSTS.plc1, 100).data, [4242], 'written on PLC-1');
      assert.deepEqual(modbusRead('hmi', HOSTS.plc2, 100).data, before2, 'PLC-2 untouched');
      const h = readHealth(stateDir)!;
      assert.ok(
        h.targets.some((x) => x.server === HOSTS.plc1 && x.port === 502) &&
          h.targets.some((x) => x.server === HOSTS.plc2 && x.port === 502),
      );
      assert.match(
        weir('enforce', 'status'),
        new RegExp(`gateway: up since .*policy ${h.policySha.slice(0, 12)}`),
      );
    } finally {
      await lab.down();
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
