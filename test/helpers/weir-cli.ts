import { spawn } from 'node:child_process';
import path from 'node:path';
import { repoRoot } from './paths.js';

// WEIR_TEST_CLI runs a test against another build (e.g. the one before a change, to take its output as the reference).
export const cli = process.env.WEIR_TEST_CLI ?? path.join(repoRoot, 'dist/src/cli/main.js');

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run the real `weir` CLI; `input` goes to its standard input (a password, say). Never throws on exit codes. */
export function weir(
  args: string[],
  o: { input?: string | Buffer; env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<Run> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [cli, ...args], {
      env: { ...process.env, ...o.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '',
      stderr = '';
    c.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    c.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const timer = setTimeout(() => c.kill('SIGKILL'), o.timeoutMs ?? 60_000);
    c.on('error', reject);
    c.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    c.stdin.end(o.input ?? '');
  });
}

/** Like weir(), but a non-zero exit fails with what it said. */
export async function weirOk(
  args: string[],
  o: { input?: string; env?: Record<string, string> } = {},
): Promise<Run> {
  const r = await weir(args, o);
  if (r.code !== 0) throw new Error(`weir ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return r;
}

/**
 * A logged-in person for a store: the first admin is bootstrapped when `admin` is given; others are added by
 * that admin. Returns the token file the person's commands pass with --token-file.
 */
export async function person(
  db: string,
  dir: string,
  name: string,
  roles: string[],
  o: { admin?: string } = {},
): Promise<string> {
  const password = `${name}-password-123`;
  await weirOk(
    [
      'user',
      'add',
      name,
      '--role',
      ...roles,
      '--db',
      db,
      '--password-stdin',
      ...(o.admin ? ['--token-file', o.admin] : []),
    ],
    { input: `${password}\n` },
  );
  const tokenFile = path.join(dir, `token-${name}`);
  await weirOk(['login', '--db', db, '--user', name, '--token-file', tokenFile], {
    input: `${password}\n`,
  });
  return tokenFile;
}
