import { closeSync, existsSync, openSync, readFileSync, readSync } from 'node:fs';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { LineCounter, parseDocument } from 'yaml';
import { SETTINGS_SCHEMA, SETTINGS_VERSION } from './schema.js';
import { withDefaults, DEFAULT_SETTINGS, type Settings, type SettingsFile } from './model.js';
import { fieldName, invalidFile, offsetOf, suggestion, type FileError } from './yaml-errors.js';

/** Where settings live when neither --config nor WEIR_CONFIG names a file. */
export const SYSTEM_SETTINGS_FILE = '/etc/weir/weir.yaml';
/** A settings file is a page of numbers; far beyond that is not one. */
const MAX_FILE_BYTES = 1024 * 1024;

export type SettingsResult =
  | { ok: true; settings: Settings; file: SettingsFile }
  | { ok: false; errors: FileError[] };

/** Compiled when a settings file is first parsed, not at every command's start-up (most run without a file). */
let validator: ValidateFunction | null = null;
function settingsValidator(): ValidateFunction {
  return (validator ??= new Ajv({ allErrors: true, strict: true, verbose: true }).compile(
    SETTINGS_SCHEMA,
  ));
}

/** Parse and check a settings file's text; every problem is returned with file, line, column and field. */
export function parseSettings(text: string, file: string): SettingsResult {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, uniqueKeys: true, prettyErrors: false });
  const at = (offset: number): { line: number; column: number } => {
    const p = lc.linePos(offset);
    return { line: p.line, column: p.col };
  };
  if (doc.errors.length > 0)
    return {
      ok: false,
      errors: doc.errors.map((e) => ({
        file,
        ...at(e.pos[0]),
        field: '',
        message: e.message.split('\n')[0]!,
      })),
    };
  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    return {
      ok: false,
      errors: [{ file, line: 1, column: 1, field: '', message: (err as Error).message }],
    };
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
    return {
      ok: false,
      errors: [
        {
          file,
          line: 1,
          column: 1,
          field: '',
          message: `a settings file is a mapping that starts with \`weir: ${SETTINGS_VERSION}\``,
        },
      ],
    };
  const validate = settingsValidator();
  if (!validate(raw)) {
    const errors = (validate.errors ?? []).map((e) =>
      shapeError(e, file, (p, key) => at(offsetOf(doc, p, key))),
    );
    return { ok: false, errors: errors.sort((a, b) => a.line - b.line || a.column - b.column) };
  }
  const fileValues = raw as SettingsFile & { weir?: string };
  const { weir: _version, ...values } = fileValues;
  const settings = withDefaults(values);
  const wrong = meaningErrors(settings).map(({ path, message }) => ({
    file,
    ...at(offsetOf(doc, path, false)),
    field: fieldName(path),
    message,
  }));
  if (wrong.length > 0) return { ok: false, errors: wrong };
  return { ok: true, settings, file: values };
}

/** Values each fine alone that do not work together. */
function meaningErrors(s: Settings): Array<{ path: string[]; message: string }> {
  const out: Array<{ path: string[]; message: string }> = [];
  // A lease that lapses before its renewal comes would make steering to the gateway flap.
  if (s.gateway.heartbeat_ms >= s.gateway.lease_ms)
    out.push({
      path: ['gateway', 'heartbeat_ms'],
      message: `must be shorter than gateway.lease_ms (${s.gateway.lease_ms}), or the lease lapses between renewals`,
    });
  const user = s.capture.user;
  // Given to the capture program as -Z USER: a name, never an option, and never root.
  if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}$/.test(user))
    out.push({
      path: ['capture', 'user'],
      message: `${JSON.stringify(user)} is not a user name (letters, digits, _ . -; not starting with - or .)`,
    });
  else if (user === 'root' || rootNames().has(user))
    out.push({
      path: ['capture', 'user'],
      message: `must not be root (${user} has uid 0): the capture program parses the network's traffic and gives up root for this user`,
    });
  return out;
}

/** Names with uid 0 in the local account list (root, and aliases such as toor); none when it cannot be read. */
function rootNames(): Set<string> {
  const out = new Set<string>();
  let text = '';
  try {
    text = readFileSync('/etc/passwd', 'utf8');
  } catch {
    return out;
  }
  for (const line of text.split('\n')) {
    const [name, , uid] = line.split(':');
    if (name && uid === '0') out.add(name);
  }
  return out;
}

function shapeError(
  e: ErrorObject,
  file: string,
  place: (p: Array<string | number>, key: boolean) => { line: number; column: number },
): FileError {
  const path = e.instancePath
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  const params = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'additionalProperties': {
      const extra = String(params.additionalProperty);
      return {
        file,
        ...place([...path, extra], true),
        field: fieldName([...path, extra]),
        message: `unknown setting${suggestion(extra, e.parentSchema)}`,
      };
    }
    case 'required':
      return {
        file,
        ...place(path, false),
        field: fieldName(path),
        message: `missing required field '${String(params.missingProperty)}' (\`weir: ${SETTINGS_VERSION}\`)`,
      };
    case 'const':
      return {
        file,
        ...place(path, false),
        field: fieldName(path),
        message: `must be ${JSON.stringify(params.allowedValue)}`,
      };
    case 'type':
      return {
        file,
        ...place(path, false),
        field: fieldName(path),
        message:
          params.type === 'object'
            ? 'must be a section (a mapping of settings)'
            : params.type === 'boolean'
              ? 'must be true or false'
              : `must be ${params.type === 'integer' ? 'a whole number' : 'a number'}`,
      };
    default:
      return {
        file,
        ...place(path, false),
        field: fieldName(path),
        message: e.message ?? 'is invalid',
      };
  }
}

/** Read and check a settings file; throws one error listing every problem, each as file:line:col: field: message. */
export function readSettingsFile(file: string): Settings {
  let text: string;
  try {
    text = readBounded(file);
  } catch (err) {
    throw new Error(`cannot read settings ${file}: ${(err as Error).message}`);
  }
  const r = parseSettings(text, file);
  if (!r.ok) throw invalidFile(file, 'settings file', r.errors);
  return r.settings;
}

/**
 * Which settings file applies: --config, else $WEIR_CONFIG, else /etc/weir/weir.yaml when it exists, else
 * none (the defaults).
 */
export function settingsPath(
  flag: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
  exists: (f: string) => boolean = existsSync,
): string | null {
  if (flag) return flag;
  if (env.WEIR_CONFIG) return env.WEIR_CONFIG;
  return exists(SYSTEM_SETTINGS_FILE) ? SYSTEM_SETTINGS_FILE : null;
}

/** The effective settings and where they came from. */
export function loadSettings(
  flag?: string,
  env: NodeJS.ProcessEnv = process.env,
): { settings: Settings; source: string | null } {
  const file = settingsPath(flag, env);
  return { settings: file === null ? DEFAULT_SETTINGS : readSettingsFile(file), source: file };
}

function readBounded(file: string): string {
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(MAX_FILE_BYTES + 1);
    let total = 0;
    for (;;) {
      const n = readSync(fd, buf, total, buf.length - total, null);
      if (n === 0) break;
      total += n;
      if (total > MAX_FILE_BYTES)
        throw new Error(`larger than ${MAX_FILE_BYTES} bytes: not a settings file`);
    }
    return buf.subarray(0, total).toString('utf8');
  } finally {
    closeSync(fd);
  }
}
