import type { Command } from 'commander';
import { appendAudit } from '../../store/audit-store.js';
import { activePolicy } from '../../respond/change-control.js';
import { parseDuration } from '../../policy/load.js';
import { PermitService } from '../../permit/service.js';
import { directoryFrom } from '../../permit/directories.js';
import { openExistingStore } from '../identity.js';
import { enforcementBackend, type TargetOpts } from '../enforcement.js';
import { passwordFromStdin, promptPassword } from '../password-input.js';
import { cliSettings } from '../settings.js';

interface PermitRequestOpts extends TargetOpts {
  user: string;
  client: string;
  template: string;
  db: string;
  directory?: string;
  ttl?: string;
  passwordStdin?: boolean;
}

/**
 * `weir permit-request`: a person asks for the access a permit template of the active policy gives, proving
 * who they are to the plant's directory (LDAP/AD or RADIUS). The password comes from standard input or the
 * terminal, never from the command line (where `ps` and shell history would keep it).
 */
export function registerPermitRequest(program: Command): void {
  program
    .command('permit-request')
    .description(
      'temporary access from a permit template, for a person the directory (LDAP/AD, RADIUS) vouches for (audited; lapses by itself)',
    )
    .requiredOption('--user <name>', 'your directory account')
    .requiredOption('--client <ip>', 'the address to let in (your engineering laptop)')
    .requiredOption('--template <name>', 'a permit_templates entry of the active policy')
    .requiredOption('--db <db>', 'store: the active policy and the audit log')
    .option('--directory <kind>', 'ldap or radius (default: the first one the settings configure)')
    .option('--ttl <duration>', "shorter than the template's maximum, e.g. 30m")
    .option('--password-stdin', 'read the password from standard input')
    .option(
      '--family <family>',
      'bridge (the host bridges plant segments) or inet (it routes)',
      'bridge',
    )
    .option('--netns <name>', 'the enforcement host runs inside this network namespace')
    .option('--state-dir <dir>', 'runtime state of the enforcement host (default /run/weir)')
    .action(async (o: PermitRequestOpts) => {
      if (o.ttl !== undefined && !/^[0-9]+[smhd]?$/.test(o.ttl))
        throw new Error(`--ttl: '${o.ttl}' is not a duration like 90s, 10m, 4h`);
      const db = openExistingStore(o.db);
      try {
        const active = activePolicy(db);
        if (active === null)
          throw new Error('no active policy in the store: nothing to permit from');
        const directory = directoryFrom(cliSettings().iam, o.directory);
        const password =
          o.passwordStdin || !process.stdin.isTTY
            ? passwordFromStdin()
            : await promptPassword(`${directory.kind} password for ${o.user}: `);
        const backend = enforcementBackend(o);
        const service = new PermitService({
          policy: active.policy,
          directory,
          backend,
          audit: (e) => appendAudit(db, e),
        });
        const out = await service.request({
          user: o.user,
          password,
          client: o.client,
          template: o.template,
          ttlSeconds:
            o.ttl === undefined
              ? undefined
              : parseDuration(/[smhd]$/.test(o.ttl) ? o.ttl : Number(o.ttl)),
          via: 'cli',
        });
        backend.close();
        if (!out.ok) {
          // The person learns that it was refused and the reason class; the details are in the audit log.
          process.stderr.write(`refused: ${out.reason.replaceAll('_', ' ')}\n`);
          process.exitCode = 3;
          return;
        }
        for (const p of out.permits)
          process.stdout.write(
            `${p.flow.client} → ${p.flow.server} ${p.flow.transport}/${p.flow.port} permitted for ${out.ttlSeconds} s (template ${out.template}, as ${out.user})\n`,
          );
      } finally {
        db.close();
      }
    });
}
