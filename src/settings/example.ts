import {
  SETTINGS_SECTIONS,
  SETTINGS_VERSION,
  type FlagSchema,
  type LeafSchema,
  type TextLeafSchema,
  type SectionSchema,
} from './schema.js';

/**
 * The commented example settings file, written from the schema: every setting at its default with what it
 * does. weir.example.yaml in the repository is this text (a test keeps them equal; `weir settings example`
 * prints it).
 */
export function exampleSettings(): string {
  const lines = [
    '# Weir settings: thresholds, intervals and bounds. Every value below is the default; keep only what you',
    '# change. Read from --config FILE, else $WEIR_CONFIG, else /etc/weir/weir.yaml when it exists.',
    '# Check a file with `weir settings check FILE`; see the effective values with `weir settings show`.',
    `weir: ${SETTINGS_VERSION}`,
  ];
  const walk = (
    props: Record<string, LeafSchema | TextLeafSchema | FlagSchema | SectionSchema>,
    indent: string,
  ): void => {
    for (const [k, s] of Object.entries(props)) {
      if (s.type === 'object') {
        lines.push('', `${indent}# ${s.description}`, `${indent}${k}:`);
        walk(s.properties, `${indent}  `);
      } else {
        lines.push(
          `${indent}# ${s.description}`,
          `${indent}${k}: ${typeof s.default === 'string' ? JSON.stringify(s.default) : s.default}`,
        );
      }
    }
  };
  walk(SETTINGS_SECTIONS, '');
  return `${lines.join('\n')}\n`;
}
