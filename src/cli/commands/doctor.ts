import type { Command } from 'commander';
import { parseRoles, runDoctor, type Finding } from '../doctor.js';
import { settingsFlag } from '../settings.js';
import { captureHelperPath } from '../../capture/live.js';
import { loadSettings } from '../../settings/load.js';
import { DEFAULT_SETTINGS, type Settings } from '../../settings/model.js';

/**
 * The settings this host would run with: a broken file stops every service, so it is the first check. Later
 * checks use its values (the defaults when it is broken).
 */
function settingsCheck(): { finding: Finding; settings: Settings } {
  try {
    const { source, settings } = loadSettings(settingsFlag());
    return {
      settings,
      finding: {
        check: 'settings',
        verdict: 'ok',
        detail: source === null ? 'none found: the defaults' : `${source} is valid`,
      },
    };
  } catch (err) {
    return {
      settings: DEFAULT_SETTINGS,
      finding: {
        check: 'settings',
        verdict: 'fail',
        detail: (err as Error).message.split('\n').slice(0, 4).join('; '),
        fix: '`weir settings check FILE` names each problem; `weir settings example` prints a valid file',
      },
    };
  }
}

export function registerDoctor(program: Command): void {
  program
    .command('doctor')
    .description(
      'check that this host has what Weir needs (nftables, br_netfilter, capture rights, the capture account and helper, disk, clock, nats-server) and say how to fix each; exits 1 on a failure',
    )
    .option(
      '--role <roles>',
      'what this host does, comma-separated: sensor, enforcement, fleet (what a role needs fails; the rest warns)',
      'sensor,enforcement',
    )
    .option('-i, --interface <name>', 'the capture interface to try (SPAN/mirror port or bridge)')
    .option('--data-dir <dir>', 'the folder of the store', '/var/lib/weir')
    .option('--json', 'print JSON')
    .action((o: { role: string; interface?: string; dataDir: string; json?: boolean }) => {
      const roles = parseRoles(o.role);
      const { finding, settings } = settingsCheck();
      const findings = [
        finding,
        ...runDoctor({
          roles,
          iface: o.interface ?? null,
          dataDir: o.dataDir,
          captureUser: settings.capture.user,
          captureHelper: captureHelperPath(),
        }),
      ];
      const failed = findings.filter((f) => f.verdict === 'fail').length;
      if (o.json) process.stdout.write(`${JSON.stringify({ findings, failed }, null, 1)}\n`);
      else {
        const w = Math.max(...findings.map((f) => f.check.length));
        for (const f of findings) {
          process.stdout.write(`${f.verdict.padEnd(7)} ${f.check.padEnd(w)}  ${f.detail}\n`);
          if (f.fix && f.verdict !== 'ok')
            process.stdout.write(`${' '.repeat(w + 10)}fix: ${f.fix}\n`);
        }
        const unsure = findings.filter(
          (f) => f.verdict === 'unknown' || f.verdict === 'warn',
        ).length;
        process.stdout.write(
          failed > 0
            ? `${failed} check(s) failed${unsure ? `, ${unsure} to look at` : ''}\n`
            : `no failures${unsure ? `; ${unsure} to look at` : ''}\n`,
        );
      }
      if (failed > 0) process.exitCode = 1;
    });
}
