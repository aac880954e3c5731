// What the permit tests share: a plant policy with permit templates, an enforcement host (nftables in a
// network namespace of the test's own), the inline gateway in front of a real Modbus server (modbus-serial's
// ServerTCP) on loopback, and looks at the kernel's permit set and the audit log.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { parsePolicy } from '../../src/policy/load.js';
import { policyHashes } from '../../src/respond/change-control.js';
import { CompiledPolicy } from '../../src/policy/evaluate.js';
import { NftBackend } from '../../src/enforce/nft-backend.js';
import { Gateway } from '../../src/enforce/gateway/gateway.js';
import { ScopeReader } from '../../src/enforce/permit-scopes.js';
import { openStore, type Db } from '../../src/store/db.js';
import { appendAudit, listAudit, type AuditEntry } from '../../src/store/audit-store.js';
import type { Policy } from '../../src/policy/model.js';
import type { AuditSink } from '../../src/permit/service.js';
import { PermitRefusalAudit } from '../../src/permit/refusal-audit.js';
import { approvedStore } from '../helpers/approved-store.js';
import { freeTcpPort } from './peers.js';

// CommonJS without usable types here: the tests need a few calls of it.
/* eslint-disable @typescript-eslint/no-explicit-any */
const require = createRequire(import.meta.url);
const { default: ModbusRTU, ServerTCP } = {
  default: require('modbus-serial'),
  ...require('modbus-serial'),
} as any;

export interface ModbusClient {
  readHoldingRegisters(addr: number, n: number): Promise<{ data: number[] }>;
  writeRegister(addr: number, v: number): Promise<unknown>;
  writeRegisters(addr: number, v: number[]): Promise<unknown>;
  writeCoil(addr: number, v: boolean): Promise<unknown>;
  close(cb: () => void): void;
}

export const CLIENT = '127.0.0.1';
export const PLC = '127.0.0.2';
const WEEK = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

/** The plant: the engineering side watching, the PLC's zone enforcing; no group lets anyone reach the PLC. */
export function permitPolicy(modbusPort: number): string {
  const notToday = WEEK[(new Date().getUTCDay() + 3) % 7];
  return `weir: policy/1
timezone: UTC
zones:
  - { name: eng, members: [${CLIENT}, 127.0.0.3, 127.0.0.4], mode: monitor }
  - name: ctl
    members: [${PLC}]
    mode: enforce
    playbooks:
      - name: misbehaving-permits
        mode: act
        on: [write_new_range, function_outside_profile]
        when: { min_severity: low }
        actions: [revoke_permits, notify]
        rate_limit: { max: 10, per: 10m }
conduits: [{ name: eng-ctl, from: eng, to: ctl }]
windows:
  - { name: not-today, days: [${notToday}], from: "00:00", to: "24:00" }
permit_templates:
  - name: plc-maint
    description: setpoint maintenance on the PLC
    directory_groups: [plc-maintenance]
    zone: ctl
    servers: [${PLC}]
    clients: [eng]
    protocol: modbus
    ports: [${modbusPort}]
    functions: [3, 6, 16]
    addresses: { holding_register: ["100-109"] }
    access: read-write
    max_ttl: 10m
  - name: plc-maint-other-day
    directory_groups: [plc-maintenance]
    zone: ctl
    servers: [${PLC}]
    protocol: modbus
    ports: [${modbusPort}]
    functions: [3]
    max_ttl: 5m
    windows: [not-today]
`;
}

export interface PermitLab {
  dir: string;
  ns: string;
  stateDir: string;
  policy: Policy;
  text: string;
  db: Db;
  /** The store's file and a logged-in admin's token file (for the CLI and the API). */
  storePath: string;
  tokenFile: string;
  backend: NftBackend;
  audit: AuditSink;
  modbusPort: number;
  registers: number[];
  gateway: Gateway;
  events: Array<Record<string, unknown>>;
  /** The gateway's listening port for the PLC. */
  gatewayPort: number;
  close(): Promise<void>;
}

/** Everything up: the store with the policy active, the ruleset loaded in the namespace, PLC and gateway running. */
export async function startPermitLab(): Promise<PermitLab> {
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-permit-'));
  const ns = `weir-pm-${randomBytes(3).toString('hex')}`;
  execFileSync('ip', ['netns', 'add', ns]);
  execFileSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  const modbusPort = await freeTcpPort(PLC);
  const text = permitPolicy(modbusPort);
  const r = parsePolicy(text, 'policy.yaml');
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  const store = await approvedStore(dir, text);
  const db = openStore(store.db);
  const stateDir = path.join(dir, 'state');
  const backend = new NftBackend({ family: 'inet', netns: ns }, stateDir);
  await backend.apply({
    source: {
      policy: r.policy,
      text,
      source: 'policy.yaml',
      sha: policyHashes(r.policy, text).sha,
    },
    actor: 'test',
    gatewayIp: null,
    bridgeMac: () => '',
    portLevelOk: true,
    dryRun: false,
  });
  const registers = Array.from({ length: 300 }, (_, i) => i * 10);
  const plc = new ServerTCP(
    {
      getHoldingRegister: (addr: number) => registers[addr] ?? 0,
      setRegister: (addr: number, v: number) => {
        registers[addr] = v;
      },
      getCoil: () => false,
      setCoil: () => undefined,
    },
    { host: PLC, port: modbusPort, unitID: 1 },
  );
  await new Promise<void>((res) => plc.on('initialized', () => res()));
  plc.on('socketError', () => undefined);
  const events: Array<Record<string, unknown>> = [];
  const refusals = new PermitRefusalAudit((e) => appendAudit(db, e));
  const gateway = new Gateway({
    policy: new CompiledPolicy(r.policy),
    targetsOf: () => [{ server: PLC, port: modbusPort, protocol: 'modbus', listenIp: CLIENT }],
    listenIp: CLIENT,
    deny: 'exception',
    budgetMicros: 5000,
    // As `weir gateway --db` wires it: refusals of permitted connections go to the audit log too.
    log: (e) => {
      events.push(e);
      refusals.note(e);
    },
    permits: new ScopeReader(stateDir),
  });
  await gateway.start();
  return {
    dir,
    ns,
    stateDir,
    policy: r.policy,
    text,
    db,
    storePath: store.db,
    tokenFile: store.token,
    backend,
    audit: (e) => appendAudit(db, e),
    modbusPort,
    registers,
    gateway,
    events,
    gatewayPort: gateway.targets[0]!.listenPort,
    async close() {
      await gateway.stop();
      await new Promise<void>((res) => plc.close(() => res()));
      backend.close();
      db.close();
      try {
        execFileSync('ip', ['netns', 'delete', ns]);
      } catch {
        /* already gone */
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The scoped permit set as the kernel lists it: each element with its timeout and the seconds it has left. */
export function scopedElements(
  ns: string,
): Array<{ flow: string; timeout: number | null; expires: number | null }> {
  const out = execFileSync(
    'ip',
    ['netns', 'exec', ns, 'nft', '-j', 'list', 'set', 'inet', 'weir', 'permits_scoped'],
    { encoding: 'utf8' },
  );
  const doc = JSON.parse(out) as { nftables: Array<{ set?: { elem?: unknown[] } }> };
  const elems = doc.nftables.find((o) => o.set)?.set?.elem ?? [];
  return elems.map((e) => {
    const x = e as { elem?: { val: { concat: unknown[] }; timeout?: number; expires?: number } };
    const v = x.elem?.val ?? (e as { concat: unknown[] });
    return {
      flow: v.concat.map(String).join(' '),
      timeout: x.elem?.timeout ?? null,
      expires: x.elem?.expires ?? null,
    };
  });
}

/** A Modbus client (modbus-serial) connected through the gateway. */
export async function modbusClient(port: number): Promise<ModbusClient> {
  const c = new ModbusRTU();
  await c.connectTCP(CLIENT, { port });
  c.setID(1);
  c.setTimeout(1500);
  return c;
}

/** A read through the gateway that must fail: the connection is reset at once, or the request refused. */
export async function refusedRead(port: number): Promise<void> {
  await assert.rejects(async () => {
    const c = await modbusClient(port);
    try {
      await c.readHoldingRegisters(100, 1);
    } finally {
      c.close(() => undefined);
    }
  });
}

export function auditOf(db: Db, action: string): AuditEntry[] {
  return listAudit(db).filter((e) => e.action === action);
}

export function lastAudit(db: Db, action: string): AuditEntry {
  const all = auditOf(db, action);
  assert.ok(all.length > 0, `an audit entry ${action}`);
  return all.at(-1)!;
}
