import type { Command } from 'commander';
import { stringify } from 'yaml';
import { readSettingsFile, settingsPath } from '../../settings/load.js';
import { exampleSettings } from '../../settings/example.js';
import { SETTINGS_VERSION } from '../../settings/schema.js';
import { cliSettings, settingsFlag, settingsSource } from '../settings.js';

export function registerSettings(program: Command): void {
  const settings = program
    .command('settings')
    .description(
      'thresholds, intervals and bounds: check a settings file, show the effective values',
    );

  settings
    .command('check')
    .description(
      'check a settings file (default: the one this run would use); every problem as file:line:col: field: message',
    )
    .argument('[file]', 'settings file (weir.yaml)')
    .action((file?: string) => {
      const f = file ?? settingsPath(settingsFlag());
      if (f === null) {
        process.stdout.write(
          'no settings file (none given, no $WEIR_CONFIG, no /etc/weir/weir.yaml): the defaults apply\n',
        );
        return;
      }
      readSettingsFile(f); // throws with every problem listed
      process.stdout.write(`${f}: valid\n`);
    });

  settings
    .command('show')
    .description('print the effective settings (the file this run uses over the defaults) as YAML')
    .action(() => {
      const s = cliSettings();
      const from = settingsSource();
      process.stdout.write(
        `# effective settings: ${from === null ? 'the defaults (no settings file)' : `${from} over the defaults`}\n${stringify({ weir: SETTINGS_VERSION, ...s })}`,
      );
    });

  settings
    .command('example')
    .description('print the commented example settings file (every setting at its default)')
    .action(() => {
      process.stdout.write(exampleSettings());
    });
}
