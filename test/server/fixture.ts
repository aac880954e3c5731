// Shared set-up for the server tests: a store with the sample plant and users, a raw HTTP client that sends a
// request target exactly as written (fetch would normalise the very paths an attacker tries), and logins.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { openStore, type Db } from '../../src/store/db.js';
import { addUser } from '../../src/store/change-store.js';
import { setPasswordHash } from '../../src/store/session-store.js';
import { hashPassword } from '../../src/server/passwords.js';
import { importFeed } from '../../src/assess/advisories/import.js';
import { activate } from '../helpers/approved-store.js';
import { repoRoot } from '../helpers/paths.js';

export const cli = path.join(repoRoot, 'dist/src/cli/main.js');
export const plant = path.join(repoRoot, 'fixtures/plant.pcap');
export const webRoot = path.join(repoRoot, 'dist/web');
export const PASSWORD = 'correct horse battery';

/** A fresh store in a temp folder; with `data`, the sample plant discovered into it. */
export function freshStore(prefix: string, data = false): { dir: string; file: string; db: Db } {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  const file = path.join(dir, 'weir.db');
  if (data)
    execFileSync(process.execPath, [cli, 'discover', plant, '--db', file], { stdio: 'ignore' });
  return { dir, file, db: openStore(file) };
}

/**
 * The sample plant discovered into a fresh store, `policy` active, the fixture advisories imported and a viewer
 * 'vera': what the vulnerability and risk views read.
 */
export async function advisedPlantStore(
  prefix: string,
  policy: string,
): Promise<{ dir: string; file: string; db: Db }> {
  const store = freshStore(prefix, true);
  store.db.close();
  activate(store.file, policy);
  store.db = openStore(store.file);
  await importFeed(store.db, path.join(repoRoot, 'fixtures/advisories'));
  await addUsers(store.db, [['vera', ['viewer']]]);
  return store;
}

/** Users with the test password (hashing is slow on purpose: done in parallel). */
export async function addUsers(
  db: Db,
  users: Array<[string, string[]]>,
  password = PASSWORD,
): Promise<void> {
  const hashes = await Promise.all(users.map(() => hashPassword(password)));
  users.forEach(([name, roles], i) => {
    addUser(db, name, roles);
    setPasswordHash(db, name, hashes[i]!);
  });
}

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** One HTTP/1.1 request over a new socket, the request target sent byte for byte as given. */
export function rawRequest(
  port: number,
  method: string,
  target: string,
  headers: Record<string, string> = {},
  opts: { host?: string; localAddress?: string; body?: string } = {},
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const s = net.connect({
      port,
      host: opts.host ?? '127.0.0.1',
      localAddress: opts.localAddress,
    });
    const chunks: Buffer[] = [];
    s.setTimeout(10_000, () => s.destroy(new Error(`no answer to ${method} ${target}`)));
    s.on('data', (d: Buffer) => chunks.push(d));
    s.on('error', reject);
    s.on('close', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      const m = /^HTTP\/1\.1 (\d{3})[^\r\n]*\r\n([\s\S]*?)\r\n\r\n([\s\S]*)$/.exec(text);
      if (m === null) {
        reject(
          new Error(
            `not an HTTP answer to ${method} ${target}: ${JSON.stringify(text.slice(0, 200))}`,
          ),
        );
        return;
      }
      const h: Record<string, string> = {};
      for (const line of m[2]!.split('\r\n')) {
        const i = line.indexOf(':');
        h[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
      }
      resolve({ status: Number(m[1]), headers: h, body: m[3]! });
    });
    const all: Record<string, string> = {
      host: `127.0.0.1:${port}`,
      connection: 'close',
      ...headers,
    };
    if (opts.body !== undefined) all['content-length'] = String(Buffer.byteLength(opts.body));
    s.write(
      `${method} ${target} HTTP/1.1\r\n${Object.entries(all)
        .map(([k, v]) => `${k}: ${v}`)
        .join('\r\n')}\r\n\r\n${opts.body ?? ''}`,
    );
  });
}

/** Log in over real HTTP; returns the cookie header value. */
export async function login(
  base: string,
  user: string,
  password = PASSWORD,
  headers: Record<string, string> = {},
): Promise<string> {
  const r = await fetch(`${base}/api/session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ user, password }),
  });
  if (r.status !== 200) throw new Error(`login ${user}: ${r.status} ${await r.text()}`);
  return r.headers.get('set-cookie')!.split(';')[0]!;
}

export const portOf = (url: string): number => Number(new URL(url).port);

/** Log in through fastify's inject (no socket); returns the cookie header value. */
export async function injectLogin(
  app: FastifyInstance,
  user: string,
  password = PASSWORD,
): Promise<string> {
  const r = await app.inject({ method: 'POST', url: '/api/session', payload: { user, password } });
  assert.equal(r.statusCode, 200, `login ${user}: ${r.body}`);
  return `weir_session=${r.cookies.find((c) => c.name === 'weir_session')!.value}`;
}
