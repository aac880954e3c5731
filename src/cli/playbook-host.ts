import type { Command } from 'commander';
import type { Db } from '../store/db.js';
import type { Baseline } from '../discover/baseline.js';
import type { CompiledBaseline } from '../detect/profile.js';
import type { Detection } from '../detect/detection.js';
import type { PlaybookActionRow } from '../store/playbook-store.js';
import { appendAudit } from '../store/audit-store.js';
import { activePolicy } from '../respond/change-control.js';
import { PlaybookRunner } from '../respond/playbooks.js';
import { DEFAULT_STATE_DIR } from '../enforce/state.js';
import { playbookBackend, type playbookTarget } from '../enforce/playbook-backend.js';
import type { EnforcementBackend } from '../enforce/backend.js';
import { FleetBackend } from '../fleet/fleet-backend.js';
import { fleetNodeDir, nodeOutbox } from '../fleet/site-backend.js';
import { cliSettings } from './settings.js';
import { parseCidr } from '../policy/hosts.js';
import { liveNeverBlock } from '../enforce/host-addresses.js';
import { zoneSubnets } from '../respond/playbook-guard.js';
import type { Caller } from './identity.js';

export interface PlaybookHostOpts {
  playbooks?: boolean;
  family?: string;
  netns?: string;
  stateDir: string;
  neverBlock: string[];
}

/** The options of a command that can run the playbooks (detect and serve, on the enforcement host). */
export function withPlaybookOptions(cmd: Command): Command {
  return cmd
    .option(
      '--playbooks',
      "run the active policy's pre-approved playbooks on detections as they open (on the enforcement host; started by a logged-in person allowed to enforce)",
    )
    .option(
      '--family <family>',
      'nftables family of the loaded ruleset (default: what `enforce apply` loaded)',
    )
    .option('--netns <name>', 'the ruleset lives in this network namespace (default: as applied)')
    .option('--state-dir <dir>', 'runtime state of this enforcement host', DEFAULT_STATE_DIR)
    .option(
      '--never-block <ip>',
      'an address playbooks must never block besides this host, its routers and gateway (the manager, …); repeatable',
      (v: string, all: string[]) => [...all, v],
      [] as string[],
    );
}

/**
 * Start the playbooks of the store's active policy for a live run: the runner, its nft process, and a way to
 * wait for actions under way. Audited as started by the person who proved themselves.
 */
export function startPlaybooks(
  db: Db,
  baseline: Baseline,
  caller: Caller,
  o: PlaybookHostOpts,
  onAction: (a: PlaybookActionRow) => void,
  /**
   * A fleet node's own enforcement (its FleetBackend over its nft target): the playbooks act through it, the
   * node sends detections to the manager itself, and it closes the backend itself.
   */
  site?: { backend: EnforcementBackend; target: ReturnType<typeof playbookTarget> },
  /** The detection engine's compiled baseline (`weir detect`): the playbooks share its asset set. */
  compiled?: CompiledBaseline,
): { onDetection: (d: Detection) => void; close: () => Promise<void>; describe: string } {
  const active = activePolicy(db);
  if (active === null)
    throw new Error(
      'no active policy in the store: playbooks come only from a policy approved through change control',
    );
  for (const a of o.neverBlock)
    if (parseCidr(a) === null)
      throw new Error(`--never-block: '${a}' is not an address or a CIDR block`);
  // The enforcement backend itself: the runner takes the narrow PlaybookKernel part of its contract.
  const nft = site === undefined ? playbookBackend(o) : null;
  const target = site?.target ?? nft!.target;
  // On a fleet site (WEIR_FLEET_NODE or settings fleet.node_dir) the playbooks' blocks go fleet-wide and
  // detections to the manager.
  const nodeDir = site === undefined ? fleetNodeDir(cliSettings().fleet.node_dir) : null;
  const fleet = nodeDir !== null ? nodeOutbox(nodeDir) : null;
  const backend: EnforcementBackend =
    site?.backend ?? (fleet ? new FleetBackend(nft!, fleet) : nft!);
  // Read again for the blocks (the gateway may be applied, an address or a route change after the start).
  const protectedAddresses = liveNeverBlock({
    netns: target.netns,
    stateDir: o.stateDir,
    extra: o.neverBlock,
    gatewayIp: cliSettings().enforce.gateway_ip,
    subnets: zoneSubnets(active.policy),
  });
  const runner = new PlaybookRunner({
    db,
    active: { policy: active.policy, sha: active.sha },
    baseline,
    ...(compiled !== undefined ? { compiled } : {}),
    kernel: backend,
    protectedAddresses,
    onAction,
  });
  const s = runner.summary();
  if (s.act.length > 0 && !backend.status().loaded)
    process.stderr.write(
      `weir: warning: no Weir ruleset is loaded${target.netns ? ` in netns ${target.netns}` : ''}: blocks will fail until \`weir enforce apply\` loads one (its blocklist)\n`,
    );
  appendAudit(db, {
    actor: caller.name,
    action: 'playbooks.started',
    subject: target.netns
      ? `nftables ${target.family} (netns ${target.netns})`
      : `nftables ${target.family}`,
    details: {
      policy: active.sha.slice(0, 12),
      act: s.act,
      simulate: s.simulate,
      never_block: protectedAddresses().addresses,
      baseline_version: baseline.version,
    },
  });
  const under = new Set<Promise<unknown>>();
  return {
    describe: `playbooks of policy ${active.sha.slice(0, 12)}: acting ${s.act.join(', ') || 'none'}; simulating ${s.simulate.join(', ') || 'none'}`,
    onDetection: (d) => {
      fleet?.add('detection', d);
      const p = runner.onDetection(d).catch((err: Error) => {
        process.stderr.write(`weir: playbook on detection ${d.id} failed: ${err.message}\n`);
      });
      under.add(p);
      void p.finally(() => under.delete(p));
    },
    close: async () => {
      await Promise.all(under);
      if (site === undefined) backend.close();
      appendAudit(db, {
        actor: caller.name,
        action: 'playbooks.stopped',
        subject: `nftables ${target.family}`,
        details: { policy: active.sha.slice(0, 12) },
      });
    },
  };
}

/** One line per playbook action, for the terminal of the runner. */
export function actionLine(a: PlaybookActionRow): string {
  const what =
    a.kind === 'block_source'
      ? `block ${a.target}${a.ttlS ? ` for ${a.ttlS} s` : ''}`
      : a.kind === 'revoke_permits'
        ? `revoke permit ${a.target}`
        : `notify about ${a.target}`;
  return `playbook ${a.zone}/${a.playbook} [${a.mode}] ${what}: ${a.status}${a.status === 'refused' || a.status === 'failed' ? ` (${a.reason})` : ''} — action ${a.id}, detection ${a.detectionId} (${a.detectionType})`;
}
