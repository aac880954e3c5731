import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TLSSocket } from 'node:tls';
import { cli, PASSWORD } from './fixture.js';

interface Served {
  proc: ChildProcess;
  url: string;
  fingerprint: string | null;
}

/** Starts `weir serve` and waits for the line that says where it listens (and the certificate line). */
async function serve(args: string[]): Promise<Served> {
  const proc = spawn(process.execPath, [cli, 'serve', '--port', '0', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  proc.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
  });
  return new Promise((resolve, reject) => {
    proc.once('exit', (code) => reject(new Error(`weir serve exited ${code}: ${err}`)));
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const url = /at (https?:\/\/[0-9.:]+)/.exec(out)?.[1];
      if (url === undefined) return;
      if (url.startsWith('https') && !/SHA-256/.test(out)) return;
      resolve({
        proc,
        url,
        fingerprint: /SHA-256 fingerprint:? ([0-9A-F:]{95})/.exec(out)?.[1] ?? null,
      });
    });
  });
}

async function stop(s: Served): Promise<void> {
  s.proc.kill('SIGTERM');
  if (s.proc.exitCode === null) await new Promise((r) => s.proc.once('exit', r));
}

/** One HTTPS request that accepts any certificate and reports the one it saw. */
function request(
  url: string,
  method: string,
  body?: unknown,
): Promise<{
  status: number;
  headers: Record<string, string | string[] | undefined>;
  peer: string;
}> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      url,
      {
        method,
        rejectUnauthorized: false,
        headers: body ? { 'content-type': 'application/json' } : {},
      },
      (res) => {
        const peer = (res.socket as TLSSocket).getPeerCertificate().fingerprint256;
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, peer }));
      },
    );
    req.on('error', reject);
    req.end(body ? JSON.stringify(body) : undefined);
  });
}

test(
  'weir serve --tls: a generated self-signed certificate kept 0600 beside the store, its fingerprint printed, cookies Secure',
  { timeout: 60_000 },
  async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'weir-tls-'));
    const db = path.join(dir, 'weir.db');
    execFileSync(
      process.execPath,
      [cli, 'user', 'add', 'ana', '--role', 'admin', '--db', db, '--password-stdin'],
      { input: `${PASSWORD}\n`, stdio: ['pipe', 'ignore', 'pipe'] },
    );
    try {
      const s = await serve(['--db', db, '--tls']);
      let fingerprint: string;
      try {
        assert.match(s.url, /^https:\/\/127\.0\.0\.1:\d+$/);
        assert.ok(s.fingerprint, 'the fingerprint is printed');
        fingerprint = s.fingerprint;
        const files = [`${db}.tls-key.pem`, `${db}.tls-cert.pem`];
        for (const f of files) {
          assert.ok(existsSync(f), f);
          assert.equal(statSync(f).mode & 0o777, 0o600, `${f} is 0600`);
        }
        const r = await request(`${s.url}/api/session`, 'POST', {
          user: 'ana',
          password: PASSWORD,
        });
        assert.equal(r.status, 200);
        assert.equal(
          r.peer,
          fingerprint,
          'the server presents the certificate whose fingerprint it printed',
        );
        assert.match(String(r.headers['set-cookie']), /; Secure/);
        // Plain HTTP on the TLS port gets nothing useful.
        const plain = await fetch(s.url.replace('https', 'http') + '/api/me').then(
          (x) => x.status,
          (e: Error) => e.message,
        );
        assert.notEqual(plain, 200);
      } finally {
        await stop(s);
      }
      const again = await serve(['--db', db, '--tls']);
      try {
        assert.equal(
          again.fingerprint,
          fingerprint,
          'the same certificate next time, so a user verifies it once',
        );
      } finally {
        await stop(again);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test(
  "weir serve --tls-cert/--tls-key: the operator's own certificate",
  { timeout: 60_000 },
  async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'weir-tls-own-'));
    const db = path.join(dir, 'weir.db');
    const key = path.join(dir, 'own.key'),
      cert = path.join(dir, 'own.crt');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        key,
        '-out',
        cert,
        '-days',
        '2',
        '-subj',
        '/CN=weir.plant.local',
      ],
      { stdio: 'ignore' },
    );
    const want = execFileSync('openssl', ['x509', '-in', cert, '-noout', '-fingerprint', '-sha256'])
      .toString()
      .split('=')[1]!
      .trim();
    try {
      const s = await serve([
        '--db',
        db,
        '--tls-cert',
        cert,
        '--tls-key',
        key,
        '--allowed-host',
        'weir.plant.local',
      ]);
      try {
        assert.equal(s.fingerprint, want);
        const r = await request(`${s.url}/api/me`, 'GET');
        assert.equal(r.status, 401);
        assert.equal(r.peer, want);
        assert.ok(
          !existsSync(`${db}.tls-key.pem`),
          'no certificate is generated when the operator brings one',
        );
      } finally {
        await stop(s);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
