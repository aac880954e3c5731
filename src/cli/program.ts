import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { registerDissect } from './commands/dissect.js';
import { registerDiscover } from './commands/discover.js';
import { registerLearn } from './commands/learn.js';
import { registerDetect } from './commands/detect.js';
import { registerBaseline } from './commands/baseline.js';
import { registerIncidents } from './commands/incidents.js';
import { registerPolicy } from './commands/policy.js';
import { registerUser } from './commands/user.js';
import { registerEnforce } from './commands/enforce.js';
import { registerServe } from './commands/serve.js';
import { registerLogin } from './commands/login.js';
import { registerSettings } from './commands/settings.js';
import { registerAdvisories } from './commands/advisories.js';
import { registerAssess } from './commands/assess.js';
import { registerBundle } from './commands/bundle.js';
import { registerExport } from './commands/export.js';
import { registerPlaybook } from './commands/playbook.js';
import { registerDecoy } from './commands/decoy.js';
import { registerManager } from './commands/manager.js';
import { registerNode } from './commands/node.js';
import { registerBackup } from './commands/backup.js';
import { registerDoctor } from './commands/doctor.js';
import { registerPermitRequest } from './commands/permit-request.js';
import { terminalWidth } from './columns.js';
import { useSettingsFile } from './settings.js';

/** The release, from package.json beside dist (the checkout's, or /usr/lib/weir's in the Debian package). */
function release(): string {
  try {
    const file = fileURLToPath(new URL('../../../package.json', import.meta.url));
    return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/** The whole `weir` command tree, unparsed (main.ts runs it; tests walk it). */
export function buildProgram(): Command {
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
  registerDissect(program);
  registerDiscover(program);
  registerLearn(program);
  registerDetect(program);
  registerBaseline(program);
  registerIncidents(program);
  registerPolicy(program);
  registerUser(program);
  registerLogin(program);
  registerEnforce(program);
  registerServe(program);
  registerSettings(program);
  registerAdvisories(program);
  registerAssess(program);
  registerBundle(program);
  registerExport(program);
  registerPlaybook(program);
  registerDecoy(program);
  registerManager(program);
  registerNode(program);
  registerBackup(program);
  registerDoctor(program);
  registerPermitRequest(program);
  return program;
}
