import { execFile, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { checkBridgeNetfilter, ensureBridgeConntrack } from './bridge-netfilter.js';
import { BLOCKED_UNFILTERED, COUNTED, LAYER2_CHAIN, NOT_FILTERED } from './nft-layer2.js';
import {
  REFUSED,
  STEALTH_RULE,
  TABLE,
  WOULD_REFUSE,
  tableFamilies,
  type CompiledRuleset,
  type NftFamily,
} from './nft-ruleset.js';

/** Where nft runs: the host, or a network namespace (labs, tests). */
export interface NftTarget {
  family: NftFamily;
  netns?: string;
  /** Router family: reverse-path check loose (any route back) instead of strict (settings enforce.loose_reverse_path). */
  looseReversePath?: boolean;
}

function run(target: NftTarget, args: string[]): { ok: boolean; stdout: string; stderr: string } {
  const cmd = target.netns
    ? (['ip', ['netns', 'exec', target.netns, 'nft', ...args]] as const)
    : (['nft', args] as const);
  // Hours in rules are UTC (the compiler converts each window's time zone); nft must not shift them again.
  const r = spawnSync(cmd[0], [...cmd[1]], {
    encoding: 'utf8',
    env: { ...process.env, TZ: 'UTC' },
    timeout: 30_000,
  });
  if (r.error) throw new Error(`cannot run nft: ${r.error.message} (is nftables installed?)`);
  return { ok: r.status === 0, stdout: r.stdout, stderr: r.stderr.trim() };
}

/** Load a libnftables JSON document from a file, as one kernel transaction (`check`: nft -c, nothing loaded). */
function loadJson(target: NftTarget, doc: unknown, check = false): void {
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-nft-'));
  try {
    const file = path.join(dir, 'ruleset.json');
    writeFileSync(file, JSON.stringify(doc));
    const r = run(target, [...(check ? ['-c'] : []), '-j', '-f', file]);
    if (!r.ok) throw new Error(`nft refused the ruleset: ${r.stderr}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * What would make the load fail, found before anything changes: a bridge without br_netfilter, a ruleset nft
 * refuses. An apply asks first, so a running gateway is never switched to a policy the kernel then refuses
 * (and back: each switch ends the connections the other policy refuses; a fleet site retries, review 13 M7).
 */
export function checkRuleset(target: NftTarget, r: CompiledRuleset): void {
  if (target.family === 'bridge') checkBridgeNetfilter(target);
  loadJson(target, r.json, true);
}

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** Sets and maps whose elements change at run time: carried over by an apply, never compared. */
const DYNAMIC = new Set([
  'blocklist',
  'permits',
  'blocklist6',
  'permits6',
  'permits_scoped',
  'gw_live',
  'gw_port',
]);

/** Weir's tables as loaded now (the filter table and its companions, see tableFamilies), or [] when absent. */
export function loadedObjects(target: NftTarget): Obj[] {
  const out: Obj[] = [];
  for (const family of tableFamilies(target.family)) {
    const r = run(target, ['-j', 'list', 'table', family, TABLE]);
    // Not allowed to look is not "nothing loaded": say so rather than report an empty host.
    if (!r.ok && /not permitted|must be root/i.test(r.stderr))
      throw new Error(
        `cannot read the kernel's rules: ${r.stderr.split('\n')[0]} (run as root, or with CAP_NET_ADMIN as the weir services do)`,
      );
    if (!r.ok) continue; // no such table
    out.push(
      ...(JSON.parse(r.stdout) as { nftables: Obj[] }).nftables.filter((o) => !('metainfo' in o)),
    );
  }
  return out;
}

/** A comparable form of a ruleset: one line per set element and per rule (handles and counters left out). */
function fingerprint(objs: Obj[]): Set<string> {
  const lines = new Set<string>();
  for (const o of objs) {
    const cmd = o.add ?? o;
    if (cmd.rule) {
      const expr = (cmd.rule.expr as Obj[]).map((e) => ('counter' in e ? { counter: null } : e));
      lines.add(`rule ${cmd.rule.family} ${cmd.rule.chain} ${canon(expr)}`);
    } else if (cmd.set) {
      lines.add(`set ${cmd.set.family} ${cmd.set.name} ${canon(cmd.set.type)}`);
      // The dynamic sets (blocklist, permits, gateway leases) change at run time; they are carried over, not compared.
      if (!DYNAMIC.has(cmd.set.name))
        for (const e of (cmd.set.elem ?? []) as unknown[])
          lines.add(`elem ${cmd.set.name} ${canon(e)}`);
    } else if (cmd.map) {
      lines.add(
        `map ${cmd.map.family} ${cmd.map.name} ${canon(cmd.map.type)} ${canon(cmd.map.map)}`,
      );
    } else if (cmd.chain)
      lines.add(`chain ${cmd.chain.family} ${cmd.chain.name} ${cmd.chain.hook ?? ''}`);
  }
  return lines;
}

/** JSON with numbers and strings alike ("502" vs 502) and object keys sorted, so loaded and compiled compare. */
function canon(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => {
    if (typeof x === 'number') return String(x);
    if (x && typeof x === 'object' && !Array.isArray(x))
      return Object.fromEntries(Object.entries(x as Obj).sort(([a], [b]) => a.localeCompare(b)));
    return x;
  });
}

export interface ApplyResult {
  changed: boolean;
  /** Digest of the ruleset now loaded (rules and static elements; dynamic sets left out). */
  digest: string;
  added: string[];
  removed: string[];
  /** Host settings the load switched on (a bridge needs br_netfilter's conntrack to tell replies). */
  switchedOn: string[];
}

/**
 * Replace Weir's tables with a compiled ruleset in one transaction, keeping blocked sources and permits with
 * their remaining time. Nothing is loaded when the ruleset equals what runs. If what the kernel holds
 * afterwards is not what was compiled, the previous tables are put back and the apply fails.
 */
export function applyRuleset(target: NftTarget, r: CompiledRuleset): ApplyResult {
  const switchedOn = target.family === 'bridge' ? ensureBridgeConntrack(target) : [];
  const before = loadedObjects(target);
  const want = fingerprint(r.json.nftables.map((c) => c as Obj));
  const have = fingerprint(before);
  const added = [...want].filter((l) => !have.has(l));
  const removed = [...have].filter((l) => !want.has(l));
  const digest = digestOf(want);
  if (before.length > 0 && added.length === 0 && removed.length === 0)
    return { changed: false, digest, added, removed, switchedOn };
  // Carry only into sets the new ruleset still has (a ruleset without steering has no gateway leases).
  const defined = new Set(
    r.json.nftables.map((c) => {
      const a = (c as Obj).add;
      const x = a?.set ?? a?.map;
      return x ? `${x.family} ${x.name}` : '';
    }),
  );
  const carried = carryDynamic(before, target.family).filter((c) => {
    const e = (c as Obj).add.element;
    return defined.has(`${e.family} ${e.name}`);
  });
  // Companion tables the new ruleset no longer has (no steering: no NAT table) go in the same transaction.
  const extraTables = tableFamilies(target.family)
    .filter(
      (fam) =>
        before.some((o) => o.table?.family === fam) &&
        !r.json.nftables.some((c) => (c as Obj).add?.table?.family === fam),
    )
    .flatMap((fam) => [
      { add: { table: { family: fam, name: TABLE } } },
      { delete: { table: { family: fam, name: TABLE } } },
    ]);
  loadJson(target, { nftables: [...extraTables, ...r.json.nftables, ...carried] });
  const after = fingerprint(loadedObjects(target));
  const missing = [...want].filter((l) => !after.has(l));
  if (missing.length > 0) {
    restore(target, before);
    throw new Error(
      `the kernel holds a different ruleset than compiled (${missing.length} differences:\n${missing.join('\n')}); previous ruleset restored`,
    );
  }
  return { changed: true, digest, added, removed, switchedOn };
}

function digestOf(lines: Set<string>): string {
  return createHash('sha256')
    .update([...lines].sort().join('\n'))
    .digest('hex');
}

/** Digest of Weir's ruleset as listed (comparable with ApplyResult.digest), or null when none is loaded. */
export function loadedDigest(objs: Obj[]): string | null {
  return objs.length === 0 ? null : digestOf(fingerprint(objs));
}

/** Elements of the dynamic sets (blocklist, permits, gateway leases) with the time they have left. */
function carryDynamic(objs: Obj[], family: NftFamily): unknown[] {
  const out: unknown[] = [];
  for (const o of objs) {
    const s = o.set ?? o.map;
    if (!s || !DYNAMIC.has(s.name) || !s.elem || (s.family !== family && s.family !== 'ip'))
      continue;
    out.push({
      add: {
        element: {
          family: s.family,
          table: TABLE,
          name: s.name,
          elem: (s.elem as unknown[]).map(withTimeLeft),
        },
      },
    });
  }
  return out;
}

/** A listed element (or map entry [element, data]) with its remaining time as the timeout to load. */
function withTimeLeft(e: unknown): unknown {
  if (Array.isArray(e)) return [withTimeLeft(e[0]), e[1]];
  const x = e as Obj;
  return x.elem
    ? {
        elem: {
          val: x.elem.val,
          timeout: Math.max(1, Math.ceil(x.elem.expires ?? x.elem.timeout ?? 1)),
        },
      }
    : e;
}

/** Put a listed ruleset back (objects as `nft -j list` gives them, re-added in order). */
function restore(target: NftTarget, objs: Obj[]): void {
  const cmds: unknown[] = [];
  for (const fam of tableFamilies(target.family))
    cmds.push(
      { add: { table: { family: fam, name: TABLE } } },
      { delete: { table: { family: fam, name: TABLE } } },
    );
  for (const o of objs) {
    const [kind, body] = Object.entries(o)[0] as [string, Obj];
    const { handle: _h, ...rest } = body;
    if (kind === 'rule')
      rest.expr = (rest.expr as Obj[]).map((e) => ('counter' in e ? { counter: null } : e));
    if ((kind === 'set' || kind === 'map') && rest.elem)
      rest.elem = (rest.elem as unknown[]).map(withTimeLeft);
    cmds.push({ add: { [kind]: rest } });
  }
  loadJson(target, { nftables: cmds });
}

/** Remove Weir's tables: traffic flows as before enforcement. */
export function removeRuleset(target: NftTarget): boolean {
  let any = false;
  for (const family of tableFamilies(target.family))
    if (run(target, ['delete', 'table', family, TABLE]).ok) any = true;
  return any;
}

/**
 * Stop steering to the gateway now: flush the leases it holds (bridge `gw_live`, DNAT `gw_port`), so steered
 * traffic goes direct while every allowlist and block stays loaded. What a clean gateway stop does itself and
 * a crash does one lease later. Returns the leases that were held (0 when nothing steered or nothing loaded).
 */
export function unsteer(target: NftTarget): number {
  const objs = loadedObjects(target);
  const held = statusOf(objs, target.family).live.length;
  const has = (kind: 'set' | 'map', name: string) => objs.some((o) => o[kind]?.name === name);
  const cmds: string[] = [];
  if (target.family === 'bridge' && has('set', 'gw_live'))
    cmds.push(`flush set bridge ${TABLE} gw_live`);
  if (has('map', 'gw_port')) cmds.push(`flush map ip ${TABLE} gw_port`);
  if (cmds.length === 0) return 0;
  const r = run(target, [cmds.join('; ')]);
  if (!r.ok) throw new Error(`nft refused to drop the gateway leases: ${r.stderr}`);
  return held;
}

/** Blocks and permits live in one set per address family; permits from templates in one of their own. */
export type DynamicSet = 'blocklist' | 'permits' | 'blocklist6' | 'permits6' | 'permits_scoped';
export const blockSetOf = (ip: string): DynamicSet =>
  ip.includes(':') ? 'blocklist6' : 'blocklist';
export const permitSetOf = (client: string): DynamicSet =>
  client.includes(':') ? 'permits6' : 'permits';

function element(
  target: NftTarget,
  op: 'add' | 'delete',
  set: DynamicSet,
  val: unknown,
  timeout?: number,
): void {
  const elem = timeout !== undefined ? [{ elem: { val, timeout } }] : [val];
  loadJson(target, {
    nftables: [{ [op]: { element: { family: target.family, table: TABLE, name: set, elem } } }],
  });
}

/** Drop everything from and to an address, at once, for `ttl` seconds. */
export function blockSource(target: NftTarget, ip: string, ttl: number): void {
  element(target, 'add', blockSetOf(ip), ip, ttl);
}

export function unblockSource(target: NftTarget, ip: string): void {
  element(target, 'delete', blockSetOf(ip), ip);
}

/** Let one flow through for `ttl` seconds whatever the groups say (maintenance, a vendor's remote session). */
export function permitFlow(
  target: NftTarget,
  f: { client: string; server: string; transport: 'tcp' | 'udp'; port: number },
  ttl: number,
  scoped = false,
): void {
  element(
    target,
    'add',
    scoped ? 'permits_scoped' : permitSetOf(f.client),
    { concat: [f.client, f.server, f.transport, f.port] },
    ttl,
  );
}

/** Withdraw one temporary permit before its time runs out. */
export function revokeFlow(
  target: NftTarget,
  f: { client: string; server: string; transport: 'tcp' | 'udp'; port: number },
  scoped = false,
): void {
  element(target, 'delete', scoped ? 'permits_scoped' : permitSetOf(f.client), {
    concat: [f.client, f.server, f.transport, f.port],
  });
}

export interface EnforcementStatus {
  loaded: boolean;
  blocked: Array<{ ip: string; expiresIn: number | null }>;
  permits: Array<{ flow: string; expiresIn: number | null }>;
  /** Packets and bytes per commented rule (drops, would-block logs). */
  counters: Array<{ rule: string; packets: number; bytes: number }>;
  /** Servers the ruleset steers to the gateway, and those whose lease the gateway holds right now. */
  steered: string[];
  live: string[];
  /**
   * Stealth (sensor-only) mode is loaded, and how many frames of the host's own it has held back (absent: the
   * backend has no stealth mode, read as off).
   */
  stealth?: { on: boolean; heldBack: number };
  /** What the loaded ruleset refuses (or would refuse) because it cannot judge it: IPv6, stacked VLAN tags. */
  refused?: string[];
  /** Layer 2 (bridge): what passes unfiltered or is only counted, by the comments of the layer-2 chain. */
  layer2?: string[];
}

export function status(target: NftTarget): EnforcementStatus {
  return statusOf(loadedObjects(target), target.family);
}

/** Status from listed objects (one listing serves both the status and the digest). */
export function statusOf(objs: Obj[], family: NftFamily): EnforcementStatus {
  const out: EnforcementStatus = {
    loaded: objs.length > 0,
    blocked: [],
    permits: [],
    counters: [],
    steered: [],
    live: [],
    stealth: { on: false, heldBack: 0 },
    refused: [],
    layer2: [],
  };
  const pair = (e: Obj): string => {
    const v = (e.elem?.val ?? e) as Obj;
    return Array.isArray(v.concat) ? `${String(v.concat[0])}:${String(v.concat[1])}` : canon(v);
  };
  for (const o of objs) {
    if (o.set?.name === 'blocklist' || o.set?.name === 'blocklist6')
      for (const e of (o.set.elem ?? []) as Obj[])
        out.blocked.push({ ip: String(e.elem?.val ?? e), expiresIn: e.elem?.expires ?? null });
    if (o.set?.name === 'permits' || o.set?.name === 'permits6' || o.set?.name === 'permits_scoped')
      for (const e of (o.set.elem ?? []) as Obj[])
        out.permits.push({ flow: canon(e.elem?.val ?? e), expiresIn: e.elem?.expires ?? null });
    if (o.set?.name === 'gw_steered')
      for (const e of (o.set.elem ?? []) as Obj[]) out.steered.push(pair(e));
    if (o.set?.name === 'gw_live')
      for (const e of (o.set.elem ?? []) as Obj[]) out.live.push(pair(e));
    if (o.map?.name === 'gw_port' && family !== 'bridge')
      for (const e of (o.map.elem ?? []) as Obj[][]) out.live.push(pair(e[0]!));
    if (o.rule) {
      const c = (o.rule.expr as Obj[]).find((e) => 'counter' in e)?.counter as
        | { packets: number; bytes: number }
        | undefined;
      if (o.rule.comment === STEALTH_RULE) out.stealth = { on: true, heldBack: c?.packets ?? 0 };
      const comment = String(o.rule.comment ?? '');
      if (comment.startsWith(REFUSED) || comment.startsWith(WOULD_REFUSE))
        out.refused!.push(comment);
      if (comment.startsWith(NOT_FILTERED) || comment.startsWith(COUNTED))
        out.layer2!.push(comment);
      if (o.rule.chain === LAYER2_CHAIN && !out.layer2!.includes(BLOCKED_UNFILTERED))
        out.layer2!.push(BLOCKED_UNFILTERED);
      if (c)
        out.counters.push({
          rule: String(o.rule.comment ?? o.rule.chain),
          packets: c.packets,
          bytes: c.bytes,
        });
    }
  }
  return out;
}

/** A temporary permit as listed: the flow and the seconds it has left. */
export interface ListedPermit {
  client: string;
  server: string;
  transport: 'tcp' | 'udp';
  port: number;
  expiresIn: number | null;
}

/**
 * The temporary permits in force, read without blocking the caller's event loop (the playbook runner keeps
 * handling detections meanwhile).
 */
export async function listPermits(target: NftTarget): Promise<ListedPermit[]> {
  const [v4, v6] = await Promise.all([
    listPermitSet(target, 'permits'),
    // A ruleset loaded before IPv6 permits existed has no such set: it holds none.
    listPermitSet(target, 'permits6').catch(() => []),
  ]);
  return [...v4, ...v6];
}

/** One permit set as listed (`permits_scoped`: the permits from templates). */
export function listPermitSet(target: NftTarget, set: DynamicSet): Promise<ListedPermit[]> {
  const args = ['-j', 'list', 'set', target.family, TABLE, set];
  const [cmd, argv] = target.netns
    ? ['ip', ['netns', 'exec', target.netns, 'nft', ...args]]
    : ['nft', args];
  return new Promise((resolve, reject) =>
    execFile(
      cmd,
      argv,
      { encoding: 'utf8', env: { ...process.env, TZ: 'UTC' }, timeout: 30_000 },
      (err, stdout, stderr) => {
        if (err) return reject(new Error(`no permits set loaded: ${stderr.trim() || err.message}`));
        resolve(permitsOf(JSON.parse(stdout) as { nftables: Obj[] }));
      },
    ),
  );
}

/** The temporary permits (every permit set) of a listing of the whole table. */
export function permitsIn(objs: Obj[]): ListedPermit[] {
  const sets = new Set(['permits', 'permits6', 'permits_scoped']);
  return permitsOf({ nftables: objs.filter((o) => sets.has(String(o.set?.name))) });
}

function permitsOf(doc: { nftables: Obj[] }): ListedPermit[] {
  const out: ListedPermit[] = [];
  for (const o of doc.nftables)
    for (const e of (o.set?.elem ?? []) as Obj[]) {
      const v = (e.elem?.val ?? e) as Obj;
      const [client, server, proto, port] = (v.concat ?? []) as unknown[];
      out.push({
        client: String(client),
        server: String(server),
        transport: proto === 6 || proto === 'tcp' ? 'tcp' : 'udp',
        port: Number(port),
        expiresIn: typeof e.elem?.expires === 'number' ? (e.elem.expires as number) : null,
      });
    }
  return out;
}
