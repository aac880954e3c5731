// The overview's enforcement statement, in headless Chromium, checked against the enforcement host's real
// kernel (a network namespace of the test's own): unknown before anything is applied, the policy the kernel
// runs, a ruleset changed by hand, and nothing after removal.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { openStore } from '../../src/store/db.js';
import { activePolicySha } from '../../src/store/change-store.js';
import { buildServer } from '../../src/server/app.js';
import { canBuildLab } from '../lab/plant.js';
import { CHROMIUM, launchChromium, logIn } from '../helpers/browser.js';
import { repoRoot } from '../helpers/paths.js';
import { approvedStore } from '../helpers/approved-store.js';

const cli = path.join(repoRoot, 'dist/src/cli/main.js');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const POLICY = `weir: policy/1
zones:
  - { name: sup, members: [10.66.0.0/28], mode: monitor }
  - { name: ctl, members: [10.66.0.16/28], mode: enforce }
conduits: [{ name: c, from: sup, to: ctl }]
groups:
  - { name: hmi, conduit: c, clients: [10.66.0.10], servers: [10.66.0.21], protocol: modbus, access: read-only }
`;

test(
  'the overview says what the enforcement host really runs: unknown, the applied policy, a hand-made change, removed',
  { timeout: 120_000 },
  async (t) => {
    if (!existsSync(CHROMIUM) || !canBuildLab()) {
      if (process.env.CI === 'true')
        throw new Error('needs Debian chromium and root for a network namespace');
      return t.skip('needs chromium and root');
    }
    const dir = mkdtempSync(path.join(tmpdir(), 'weir-enf-state-'));
    const stateDir = path.join(dir, 'state');
    const ns = `weir-es-${randomBytes(3).toString('hex')}`;
    execFileSync('ip', ['netns', 'add', ns]);
    const { db: file, auth } = await approvedStore(dir, POLICY);
    const weir = (...args: string[]): string =>
      execFileSync(process.execPath, [cli, ...args], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      });
    const db = openStore(file);
    const sha = activePolicySha(db)!;
    const app = await buildServer({ db, webRoot: path.join(repoRoot, 'dist/web'), stateDir });
    const url = await app.listen({ host: '127.0.0.1', port: 0 });
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      await logIn(page, url, 'root', 'root-password-123');
      const statement = async (p: Page): Promise<string> => {
        await p.reload();
        await p.getByTestId('enforcement').waitFor();
        return p.getByTestId('enforcement').innerText();
      };
      // A store-only `policy apply` loads nothing: before `enforce apply`, the overview does not claim blocking.
      assert.match(await statement(page), /Enforcement state unknown/);
      assert.doesNotMatch(await page.getByTestId('health').innerText(), /Blocking is on/);

      weir(
        'enforce',
        'apply',
        ...auth,
        '--family',
        'inet',
        '--netns',
        ns,
        '--port-level-ok',
        '--state-dir',
        stateDir,
      );
      const real = JSON.parse(
        weir(
          'enforce',
          'status',
          '--family',
          'inet',
          '--netns',
          ns,
          '--json',
          '--state-dir',
          stateDir,
        ),
      ) as { loaded: boolean; applied: { sha: string } };
      assert.equal(real.loaded, true);
      assert.equal(real.applied.sha, sha);
      assert.match(
        await statement(page),
        new RegExp(`The kernel runs policy ${sha.slice(0, 12)} .*0 packet\\(s\\) dropped`),
      );

      // Someone edits the kernel by hand: the overview says the ruleset differs from what was applied.
      execFileSync('ip', [
        'netns',
        'exec',
        ns,
        'nft',
        'add',
        'rule',
        'inet',
        'weir',
        'forward',
        'ip',
        'saddr',
        '10.9.9.9',
        'accept',
      ]);
      await sleep(3100); // the server reads the kernel at most every 3 s
      assert.match(await statement(page), /differs from policy .* changed outside Weir/);

      weir(
        'enforce',
        'remove',
        ...auth,
        '--family',
        'inet',
        '--netns',
        ns,
        '--state-dir',
        stateDir,
      );
      await sleep(3100);
      assert.match(
        await statement(page),
        /Nothing is blocked: enforcement was removed at .* by root/,
      );
      assert.equal(
        JSON.parse(readFileSync(path.join(stateDir, 'applied.json'), 'utf8')).removedBy,
        'root',
      );
    } finally {
      await browser.close();
      await app.close();
      db.close();
      try {
        execFileSync('ip', ['netns', 'del', ns]);
      } catch {
        /* gone */
      }
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
