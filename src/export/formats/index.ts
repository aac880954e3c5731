import { cef } from './cef.js';
import { ecs } from './ecs.js';
import { leef } from './leef.js';
import type { ExportFormat } from './format.js';

/** Every export format by name; a new format is one file and one line here. */
export const FORMATS: Readonly<Record<string, ExportFormat>> = { cef, leef, ecs };

export function formatNamed(name: string): ExportFormat {
  const f = FORMATS[name.toLowerCase()];
  if (!f)
    throw new Error(`unknown export format "${name}" (known: ${Object.keys(FORMATS).join(', ')})`);
  return f;
}
