import { loadSettings } from '../settings/load.js';
import type { Settings } from '../settings/model.js';

/**
 * The settings this run of `weir` uses: from --config, else $WEIR_CONFIG, else /etc/weir/weir.yaml when it
 * exists, else the defaults. Read on first use (a command that needs none does not fail on a broken file),
 * then kept; commands pass the values down to the engines they build.
 */
let flag: string | undefined;
let loaded: { settings: Settings; source: string | null } | null = null;

/** Called once per run, before the command's action, with the global --config option. */
export function useSettingsFile(file: string | undefined): void {
  flag = file;
  loaded = null;
}

export function cliSettings(): Settings {
  loaded ??= loadSettings(flag);
  return loaded.settings;
}

/** The file the settings came from (null: the defaults). */
export function settingsSource(): string | null {
  loaded ??= loadSettings(flag);
  return loaded.source;
}

/** The settings file named by --config or $WEIR_CONFIG, or found at the system path (null when none). */
export function settingsFlag(): string | undefined {
  return flag;
}
