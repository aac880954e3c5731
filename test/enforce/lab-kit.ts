// What the enforcement lab tests share: the CLI and agent paths, the gateway's address on the lab bridge, the
// plant's policy skeleton, and how a policy with enforcing zones reaches `weir enforce apply`.
import path from 'node:path';
import { existsSync } from 'node:fs';
import { HOSTS } from '../lab/plant.js';
import { repoRoot } from '../helpers/paths.js';
import { activate, approvedStore } from '../helpers/approved-store.js';

export const cli = path.join(repoRoot, 'dist/src/cli/main.js');
export const agent = path.join(repoRoot, 'dist/test/lab/agents/run.js');
export const GATEWAY_IP = '10.77.0.2';
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The lab plant's policy: its assets, the supervisory zone watching, the control zone enforcing, and these groups. */
export function plantPolicy(groups: string): string {
  return `weir: policy/1
timezone: UTC
assets:
  - { name: HMI-1, ip: ${HOSTS.hmi} }
  - { name: EWS-1, ip: ${HOSTS.ews} }
  - { name: HIST-1, ip: ${HOSTS.historian} }
  - { name: PLC-1, ip: ${HOSTS.plc1} }
  - { name: PLC-2, ip: ${HOSTS.plc2} }
zones:
  - { name: supervisory, members: [HMI-1, EWS-1, HIST-1], mode: monitor }
  - { name: control, members: [PLC-1, PLC-2], mode: enforce, simulation_window: 1m }
conduits:
  - { name: sup-ctl, from: supervisory, to: control }
groups:
${groups}`;
}

/**
 * CLI arguments that make `text` what `enforce apply` loads — the store's active policy, as approval leaves it —
 * and prove who applies it (a logged-in admin). Later calls with the same folder switch the active policy.
 */
export async function labPolicyStore(dir: string, text: string): Promise<string[]> {
  const db = path.join(dir, 'weir.db');
  if (!existsSync(db)) return (await approvedStore(dir, text)).auth;
  activate(db, text);
  return ['--db', db, '--token-file', path.join(dir, 'token-root')];
}
