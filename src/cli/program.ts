import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { terminalWidth } from './columns.js';
import { useSettingsFile } from './settings.js';

type Register = (program: Command) => void;

/**
 * Each command module and the top-level commands it registers. A run loads only the module of the command it
 * names: `weir gateway` must not open the fleet's NATS client, LDAP and the dashboard's modules before it listens,
 * since its start-up time is the plant's time without inspection after a restart. Help, `help CMD` and unknown
 * commands load all of them (a test checks this table against what each module registers).
 */
export const COMMAND_MODULES: readonly {
  names: readonly string[];
  load: () => Promise<Register>;
}[] = [
  { names: ['dissect'], load: async () => (await import('./commands/dissect.js')).registerDissect },
  {
    names: ['discover'],
    load: async () => (await import('./commands/discover.js')).registerDiscover,
  },
  { names: ['learn'], load: async () => (await import('./commands/learn.js')).registerLearn },
  { names: ['detect'], load: async () => (await import('./commands/detect.js')).registerDetect },
  {
    names: ['baseline'],
    load: async () => (await import('./commands/baseline.js')).registerBaseline,
  },
  {
    names: ['incidents'],
    load: async () => (await import('./commands/incidents.js')).registerIncidents,
  },
  { names: ['policy'], load: async () => (await import('./commands/policy.js')).registerPolicy },
  { names: ['user'], load: async () => (await import('./commands/user.js')).registerUser },
  {
    names: ['login', 'logout'],
    load: async () => (await import('./commands/login.js')).registerLogin,
  },
  {
    names: ['enforce', 'block', 'unblock', 'permit', 'gateway'],
    load: async () => (await import('./commands/enforce.js')).registerEnforce,
  },
  { names: ['serve'], load: async () => (await import('./commands/serve.js')).registerServe },
  {
    names: ['settings'],
    load: async () => (await import('./commands/settings.js')).registerSettings,
  },
  {
    names: ['advisories'],
    load: async () => (await import('./commands/advisories.js')).registerAdvisories,
  },
  { names: ['assess'], load: async () => (await import('./commands/assess.js')).registerAssess },
  { names: ['bundle'], load: async () => (await import('./commands/bundle.js')).registerBundle },
  { names: ['export'], load: async () => (await import('./commands/export.js')).registerExport },
  {
    names: ['playbook'],
    load: async () => (await import('./commands/playbook.js')).registerPlaybook,
  },
  { names: ['decoy'], load: async () => (await import('./commands/decoy.js')).registerDecoy },
  { names: ['manager'], load: async () => (await import('./commands/manager.js')).registerManager },
  { names: ['node'], load: async () => (await import('./commands/node.js')).registerNode },
  {
    names: ['backup', 'restore'],
    load: async () => (await import('./commands/backup.js')).registerBackup,
  },
  { names: ['doctor'], load: async () => (await import('./commands/doctor.js')).registerDoctor },
  {
    names: ['permit-request'],
    load: async () => (await import('./commands/permit-request.js')).registerPermitRequest,
  },
];

/** Global options that take a value: the word after them is not the command. */
const VALUED_GLOBALS = new Set(['--audit-key', '--config']);

/** The top-level command a command line names (argv as process.argv), or null for help, `help` and unknown. */
export function commandNamed(argv: readonly string[]): string | null {
  for (let i = 2; i < argv.length; i++) {
    const a = argv[i]!;
    if (VALUED_GLOBALS.has(a)) i++;
    else if (!a.startsWith('-')) return a;
  }
  return null;
}

/** The release, from package.json beside dist (the checkout's, or /usr/lib/weir's in the Debian package). */
function release(): string {
  try {
    const file = fileURLToPath(new URL('../../../package.json', import.meta.url));
    return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/**
 * The `weir` command tree, unparsed (main.ts runs it; tests walk it): with argv, only the module of the command it
 * names (every module when it names none that is known); without, the whole tree.
 */
export async function buildProgram(argv?: readonly string[]): Promise<Command> {
  const program = new Command();
  program
    .name('weir')
    .description('Weir: passive discovery, assessment and safe protection for industrial networks')
    .version(release())
    .showHelpAfterError()
    // Help fits the terminal like the tables do (subcommands inherit this): long command names leave
    // descriptions less than commander's 40 columns to wrap in, so let them wrap narrower.
    .configureHelp({ minWidthToWrap: 20 })
    .configureOutput({
      getOutHelpWidth: () => terminalWidth(process.stdout) ?? 80,
      getErrHelpWidth: () => terminalWidth(process.stderr) ?? 80,
    })
    .option(
      '--audit-key <file>',
      'audit key file (default: WEIR_AUDIT_KEY, else <store>.audit-key next to the store)',
    )
    .option(
      '--config <file>',
      'settings file (default: $WEIR_CONFIG, else /etc/weir/weir.yaml when it exists, else the defaults)',
    )
    .hook('preAction', () => {
      const o = program.opts<{ auditKey?: string; config?: string }>();
      if (o.auditKey) process.env.WEIR_AUDIT_KEY = o.auditKey;
      useSettingsFile(o.config);
    });
  const named = argv ? commandNamed(argv) : null;
  const only = COMMAND_MODULES.filter((m) => named !== null && m.names.includes(named));
  for (const m of only.length > 0 ? only : COMMAND_MODULES) (await m.load())(program);
  return program;
}
