// What the fleet lab tests read off a site's kernel, and the manager's fleet policy they push.
import { execFileSync, spawn } from 'node:child_process';
import path from 'node:path';
import { repoRoot } from '../helpers/paths.js';

/** A small fleet policy: its tables and blocklist set load at each site (inet family, in the site's netns). */
export const FLEET_POLICY = (n: number): string => `weir: policy/1
zones:
  - { name: sup${n}, members: [10.78.0.0/28], mode: monitor }
  - { name: ctl, members: [10.78.0.16/28], mode: enforce }
conduits: [{ name: c, from: sup${n}, to: ctl }]
groups:
  - { name: ews, conduit: c, clients: [10.78.0.0/28], servers: [ctl], ports: [502], access: read-write }
`;

/** The addresses in the blocklist set of Weir's inet table in namespace `ns` (none when it is not loaded). */
export function blockedIn(ns: string): string[] {
  try {
    const out = execFileSync(
      'ip',
      ['netns', 'exec', ns, 'nft', '-j', 'list', 'set', 'inet', 'weir', 'blocklist'],
      { encoding: 'utf8' },
    );
    const set = (
      JSON.parse(out) as { nftables: Array<{ set?: { elem?: unknown[] } }> }
    ).nftables.find((x) => x.set)?.set;
    return (set?.elem ?? []).map((e) =>
      typeof e === 'string' ? e : String((e as { elem: { val: string } }).elem.val),
    );
  } catch {
    return [];
  }
}

/**
 * Another process holding a store locked until told to let go: 'write' is a long write transaction (other
 * writers wait, readers go on: WAL); 'exclusive' is a maintenance tool's exclusive locking mode (readers and
 * writers refused; it gets the lock only while no other process has the store open).
 */
export async function lockStore(
  file: string,
  how: 'write' | 'exclusive',
): Promise<() => Promise<void>> {
  const js = `const D=require(${JSON.stringify(path.join(repoRoot, 'node_modules/better-sqlite3'))});
const d=new D(${JSON.stringify(file)});${how === 'exclusive' ? "d.pragma('locking_mode = EXCLUSIVE');" : ''}d.exec('BEGIN EXCLUSIVE');
d.exec('CREATE TABLE IF NOT EXISTS dba_note (x)');d.prepare('INSERT INTO dba_note VALUES (1)').run();
process.stdout.write('held\\n');process.stdin.on('data',()=>{d.exec('COMMIT');d.close();process.exit(0)});`;
  const c = spawn(process.execPath, ['-e', js], { stdio: ['pipe', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    c.stdout.on('data', (b: Buffer) => b.toString().includes('held') && resolve());
    c.once('exit', (code) => reject(new Error(`lock holder exited ${code}`)));
  });
  return () =>
    new Promise<void>((resolve) => {
      c.once('exit', () => resolve());
      c.stdin.write('go\n');
    });
}
