import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openStore } from '../../src/store/db.js';
import { addUser } from '../../src/store/change-store.js';
import { setPasswordHash } from '../../src/store/session-store.js';
import { listAudit } from '../../src/store/audit-store.js';
import { hashPassword } from '../../src/server/passwords.js';
import { buildServer } from '../../src/server/app.js';
import { parsePolicy } from '../../src/policy/load.js';
import { CompiledPolicy } from '../../src/policy/evaluate.js';
import { compileRuleset } from '../../src/enforce/nft-ruleset.js';
import { applyRuleset, status } from '../../src/enforce/nft.js';
import { writeApplied } from '../../src/enforce/state.js';
import { NftBackend } from '../../src/enforce/nft-backend.js';
import { PlaybookRunner } from '../../src/respond/playbooks.js';
import { canBuildLab } from '../lab/plant.js';
import { activate } from '../helpers/approved-store.js';
import { plantBaseline } from '../helpers/plant-fixtures.js';
import { CHROMIUM, launchChromium, logIn } from '../helpers/browser.js';
import { repoRoot } from '../helpers/paths.js';

const PASSWORD = 'playbook-password-1';
const POLICY = `weir: policy/1
timezone: UTC
zones:
  - name: control
    members: [10.77.0.21]
    mode: monitor
    playbooks:
      - { name: contain-scans, mode: act, on: [port_scan], actions: [block_source, notify], block_ttl: 10m }
`;

test(
  'dashboard: the Playbooks page lists the playbooks and their actions; Undo lifts a block in the kernel (security may, a viewer sees no button)',
  { timeout: 120_000 },
  async (t) => {
    if (!existsSync(CHROMIUM) || !canBuildLab()) {
      if (process.env.CI === 'true') throw new Error('needs chromium, root and iproute2');
      return t.skip('needs chromium and root');
    }
    const ns = `weir-pbw-${randomBytes(3).toString('hex')}`;
    const dir = mkdtempSync(path.join(tmpdir(), 'weir-pbw-'));
    execFileSync('ip', ['netns', 'add', ns]);
    const target = { family: 'bridge' as const, netns: ns };
    const file = path.join(dir, 'weir.db');
    const db = openStore(file);
    // The enforcement backend itself, over its persistent nft session, as the playbook host hands it in.
    const kernel = new NftBackend(target, dir, { persistent: true });
    try {
      activate(file, POLICY);
      const r = parsePolicy(POLICY, 'policy.yaml');
      assert.ok(r.ok);
      applyRuleset(target, compileRuleset(new CompiledPolicy(r.policy), { family: 'bridge' }));
      writeApplied(dir, {
        sha: 'x',
        source: 'policy.yaml',
        text: POLICY,
        appliedAt: new Date().toISOString(),
        actor: 'root',
        family: 'bridge',
        netns: ns,
        gatewayIp: null,
      });
      const runner = new PlaybookRunner({
        db,
        active: { policy: r.policy, sha: 'c'.repeat(64) },
        baseline: plantBaseline(),
        kernel,
        protectedAddresses: [],
      });
      const ts = Date.now() / 1000;
      const [block] = await runner.onDetection({
        id: 'det-scan-1',
        type: 'port_scan',
        severity: 'high',
        ts,
        lastTs: ts,
        count: 1,
        src: '10.77.0.66',
        dst: '10.77.0.21',
        protocol: 'tcp',
        detail: '',
        zone: 'control',
        evidence: { frames: [1], fields: {} },
        explanation: 'scan',
        suggestedResponse: '',
        techniques: [],
      });
      assert.equal(block!.status, 'done');
      assert.deepEqual(
        status(target).blocked.map((b) => b.ip),
        ['10.77.0.66'],
      );
      const hash = await hashPassword(PASSWORD);
      for (const [u, roles] of [
        ['sam', ['security']],
        ['vera', ['viewer']],
      ] as const) {
        addUser(db, u, [...roles]);
        setPasswordHash(db, u, hash);
      }
      const app = await buildServer({
        db,
        webRoot: path.join(repoRoot, 'dist/web'),
        stateDir: dir,
      });
      const url = await app.listen({ host: '127.0.0.1', port: 0 });
      const browser = await launchChromium();
      try {
        const login = async (user: string) => {
          const page = await browser.newPage();
          await logIn(page, url, user, PASSWORD);
          await page.click('a[href="#/playbooks"]');
          await page.getByTestId('playbook-actions').waitFor();
          return page;
        };
        const viewer = await login('vera');
        assert.match(
          await viewer.getByTestId('playbooks').innerText(),
          /contain-scans\s+act\s+port_scan/,
        );
        const row = viewer.locator(`tr[data-action="${block!.id}"]`);
        assert.match(await row.innerText(), /10\.77\.0\.66.*done.*det-scan-1/s);
        assert.equal(
          await row.getByRole('button', { name: 'Undo' }).count(),
          0,
          'a viewer cannot undo',
        );
        await viewer.close();

        const sec = await login('sam');
        await sec
          .locator(`tr[data-action="${block!.id}"]`)
          .getByRole('button', { name: 'Undo' })
          .click();
        await sec.getByTestId('playbook-message').waitFor();
        assert.match(
          await sec.getByTestId('playbook-message').innerText(),
          /10\.77\.0\.66 unblocked/,
        );
        await sec.waitForFunction(
          (id) =>
            /undone by sam/.test(
              document.querySelector(`tr[data-action="${id}"]`)?.textContent ?? '',
            ),
          block!.id,
        );
      } finally {
        await browser.close();
        await app.close();
      }
      assert.deepEqual(status(target).blocked, [], 'the kernel no longer blocks it');
      assert.ok(listAudit(db).some((e) => e.action === 'playbook.undone' && e.actor === 'sam'));
    } finally {
      kernel.close();
      db.close();
      execFileSync('ip', ['netns', 'del', ns]);
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
