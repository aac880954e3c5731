import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { networkInterfaces, tmpdir } from 'node:os';
import path from 'node:path';
import { cli, person } from '../helpers/weir-cli.js';

/** Start `weir serve`, wait for its "serving" line, stop it; returns what it printed. */
async function serveOnce(
  args: string[],
): Promise<{ stdout: string; stderr: string; urls: string[] }> {
  const proc = spawn(process.execPath, [cli, 'serve', '--port', '0', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '',
    stderr = '';
  proc.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  try {
    await new Promise<void>((resolve, reject) => {
      proc.once('exit', (code) => reject(new Error(`weir serve exited ${code}: ${stderr}`)));
      proc.stdout.on('data', (d: Buffer) => {
        stdout += d.toString();
        if (stdout.includes('\n')) resolve();
      });
    });
    const urls = [
      ...(/ at (.*?)(, following|$)/m.exec(stdout)?.[1] ?? '').matchAll(/https?:\/\/[^\s,]+/g),
    ].map((m) => m[0]);
    // Every URL printed answers (the dashboard's page or a redirect to it).
    for (const u of urls) {
      const s = (await fetch(u)).status;
      assert.ok(s < 400, `${u} answered ${s}`);
    }
    await new Promise((r) => setTimeout(r, 200)); // the warnings follow the serving line
    return { stdout, stderr, urls };
  } finally {
    proc.kill('SIGTERM');
  }
}

test(
  "serve --host 0.0.0.0 prints this machine's reachable URLs and warns while nobody can log in",
  { timeout: 60_000 },
  async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'weir-serve-out-'));
    try {
      const db = path.join(dir, 'weir.db');
      const first = await serveOnce(['--db', db, '--host', '0.0.0.0']);
      const port = new URL(first.urls[0]!).port;
      const outward = Object.values(networkInterfaces())
        .flat()
        .filter((a) => a && a.family === 'IPv4' && !a.internal)
        .map((a) => `http://${a!.address}:${port}`);
      for (const u of [...outward, `http://127.0.0.1:${port}`])
        assert.ok(first.urls.includes(u), `${u} in ${first.stdout}`);
      if (outward.length > 0)
        assert.equal(
          first.urls[0],
          outward[0],
          'an outward address first: 127.0.0.1 only works on this machine',
        );
      assert.match(
        first.stderr,
        /warning: no user of .*weir\.db can log in: add the first, its admin, with `weir user add NAME --role admin --db .*weir\.db --password-stdin`/,
      );
      assert.match(first.stderr, /warning: plain HTTP on 0\.0\.0\.0: .*use --tls/);

      await person(db, dir, 'root', ['admin'], { admin: '' });
      const after = await serveOnce(['--db', db]);
      assert.match(after.stdout, /^weir serving .* at http:\/\/127\.0\.0\.1:\d+\n/);
      assert.equal(after.stderr, '', 'a store with a user, on loopback: nothing to warn about');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
