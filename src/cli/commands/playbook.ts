import type { Command } from 'commander';
import { listPlaybookActions, type PlaybookActionRow } from '../../store/playbook-store.js';
import { undoPlaybookAction } from '../../respond/playbook-undo.js';
import { playbookBackend } from '../../enforce/playbook-backend.js';
import { DEFAULT_STATE_DIR } from '../../enforce/state.js';
import { openExistingStore, STORE_HINT, withIdentity, type IdentityOpts } from '../identity.js';
import { proveEnforcer } from '../enforcer.js';
import { renderColumns } from '../columns.js';

const when = (s: number): string => new Date(s * 1000).toISOString().replace('T', ' ').slice(0, 19);

function renderActions(rows: PlaybookActionRow[]): string {
  if (rows.length === 0) return 'no playbook actions';
  return renderColumns(
    ['id', 'when', 'zone/playbook', 'mode', 'action', 'target', 'status', 'detection', 'why'],
    rows.map((a) => [
      a.id,
      when(a.at),
      `${a.zone}/${a.playbook}`,
      a.mode,
      a.kind + (a.ttlS ? ` ${a.ttlS}s` : ''),
      a.target,
      a.status + (a.undoneBy ? ` by ${a.undoneBy}` : ''),
      `${a.detectionType} ${a.detectionId}`,
      a.status === 'refused' || a.status === 'failed' ? a.reason : '',
    ]),
  );
}

export function registerPlaybook(program: Command): void {
  const pb = program
    .command('playbook')
    .description("what the zones' pre-approved playbooks did, and undoing it");

  pb.command('actions')
    .description('actions taken, simulated or refused by playbooks, newest first')
    .requiredOption('--db <db>', 'store')
    .option('--limit <n>', 'at most this many', '100')
    .option('--json', 'print JSON')
    .action((o: { db: string; limit: string; json?: boolean }) => {
      const db = openExistingStore(o.db, STORE_HINT);
      try {
        const rows = listPlaybookActions(db, Math.max(1, Number(o.limit) || 100));
        process.stdout.write(
          o.json ? `${JSON.stringify(rows, null, 1)}\n` : `${renderActions(rows)}\n`,
        );
      } finally {
        db.close();
      }
    });

  withIdentity(
    pb
      .command('undo')
      .description(
        'undo a playbook action: lift its block, or restore the permit it revoked (as a logged-in person allowed to enforce; audited)',
      )
      .argument('<action-id>')
      .option('--db <db>', 'store (required)')
      .option('--family <family>', 'nftables family (default: what `enforce apply` loaded)')
      .option('--netns <name>', 'network namespace of the ruleset (default: as applied)')
      .option('--state-dir <dir>', 'runtime state of this enforcement host', DEFAULT_STATE_DIR),
  ).action(
    async (
      id: string,
      o: IdentityOpts & { db?: string; family?: string; netns?: string; stateDir: string },
    ) => {
      const caller = await proveEnforcer(o, 'playbook undo');
      const db = openExistingStore(o.db!);
      const backend = playbookBackend(o);
      try {
        const a = await undoPlaybookAction(
          db,
          { id, actor: caller.name, roles: caller.roles },
          backend,
        );
        process.stdout.write(
          `${a.id} undone: ${a.kind === 'block_source' ? `${a.target} unblocked` : `permit ${a.target} restored`}\n`,
        );
      } finally {
        backend.close();
        db.close();
      }
    },
  );
}
