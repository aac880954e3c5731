import {
  SETTINGS_SECTIONS,
  type FlagSchema,
  type LeafSchema,
  type SectionSchema,
  type TextLeafSchema,
} from './schema.js';

type ValuesOf<P> = {
  readonly [K in keyof P]: P[K] extends SectionSchema<infer Q>
    ? ValuesOf<Q>
    : P[K] extends TextLeafSchema
      ? string
      : P[K] extends FlagSchema
        ? boolean
        : number;
};

/** Effective settings: every field present (the file's values over the defaults), named as in the file. */
export type Settings = ValuesOf<typeof SETTINGS_SECTIONS>;

/** What a settings file holds: any part of the settings. */
export type SettingsFile = DeepPartial<Settings>;
type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? DeepPartial<T[K]> : T[K] };

/** The defaults, read off the schema. */
export const DEFAULT_SETTINGS: Settings = defaultsOf(SETTINGS_SECTIONS) as Settings;

function defaultsOf(
  props: Record<string, LeafSchema | TextLeafSchema | FlagSchema | SectionSchema>,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, s] of Object.entries(props))
    out[k] = s.type === 'object' ? defaultsOf(s.properties) : s.default;
  return out;
}

/** The file's values laid over the defaults (a field the file leaves out keeps its default). */
export function withDefaults(file: SettingsFile, base: Settings = DEFAULT_SETTINGS): Settings {
  const merge = (b: Record<string, unknown>, f: Record<string, unknown> | undefined) => {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(b))
      out[k] =
        typeof v === 'object' && v !== null
          ? merge(v as Record<string, unknown>, f?.[k] as Record<string, unknown> | undefined)
          : (f?.[k] ?? v);
    return out;
  };
  return merge(
    base as unknown as Record<string, unknown>,
    file as Record<string, unknown>,
  ) as Settings;
}
