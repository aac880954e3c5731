import { existsSync, realpathSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import type { Db } from '../../store/db.js';
import { baselineVersion, latestBaseline } from '../../store/baseline-store.js';
import { loadInventory } from '../../store/inventory-store.js';
import { approvalsOf, getProposal, listProposals } from '../../store/change-store.js';
import { checkAudit, listAudit, reanchorAudit, type AuditCheck } from '../../store/audit-store.js';
import type { Baseline } from '../../discover/baseline.js';
import { parsePolicy, readPolicyText } from '../../policy/load.js';
import { formatPolicyError } from '../../policy/errors.js';
import type { Policy } from '../../policy/model.js';
import { ZONE_MODES, type ZoneMode } from '../../policy/model.js';
import { CompiledPolicy } from '../../policy/evaluate.js';
import { Simulator, type SimulationResult } from '../../policy/simulate.js';
import { proposePolicy } from '../../policy/propose.js';
import { templateWarnings } from '../../policy/permit-templates.js';
import { legacyAddressWarnings } from '../../policy/legacy-addresses.js';
import { policyToYaml } from '../../policy/write.js';
import {
  plainSummary,
  TABLE_HEAD,
  tableRows,
  toHtml,
  toJson,
  layer2Lines,
} from '../../policy/report.js';
import { DRIFT_VIOLATED, driftOf, driftSummary } from '../../assess/drift.js';
import { exposurePaths, policyEffect } from '../../assess/exposure.js';
import {
  activePolicy,
  applyProposalVia,
  approveProposal,
  promoteZone,
  recordSimulation,
  rejectProposal,
  submitPolicy,
  withdrawProposal,
} from '../../respond/change-control.js';
import { runCaptures, warnCaptureErrors } from '../run-capture.js';
import { CAN } from '../../respond/roles.js';
import { describeCuts } from '../../respond/block-impact.js';
import { zoneSubnets } from '../../respond/playbook-guard.js';
import { hostNeverBlock } from '../../enforce/host-addresses.js';
import { DEFAULT_STATE_DIR } from '../../enforce/state.js';
import { cliSettings } from '../settings.js';
import {
  asCaller,
  openExistingStore,
  requireRole,
  withIdentity,
  type IdentityOpts,
} from '../identity.js';
import { registerChangeRules, storeCoveragePct } from '../change-rules.js';
import { between } from '../../dissect/stage.js';
import { enforcementBackend } from '../enforcement.js';
import { invalidFile } from '../../settings/yaml-errors.js';
import { parseTimeArg } from '../time-arg.js';
import { renderColumns } from '../columns.js';
import { describeLapsed, lapsedApprovals } from '../../respond/approval-standing.js';

/** Read and check a policy file; print every error with file, line and field, and fail. */
export function readPolicyFile(file: string): { policy: Policy; text: string } {
  let text: string;
  try {
    text = readPolicyText(file);
  } catch (err) {
    throw new Error(`cannot read policy ${file}: ${(err as Error).message}`);
  }
  const r = parsePolicy(text, file);
  if (!r.ok) throw invalidFile(file, 'policy', r.errors);
  return { policy: r.policy, text };
}

const proposalId = (s: string): number => {
  if (!/^[0-9]{1,9}$/.test(s)) throw new Error(`'${s}' is not a proposal number`);
  return Number(s);
};

/** The verification in words: what it found, and what it does and does not prove. */
function describeAuditCheck(c: AuditCheck): string {
  const head =
    c.status === 'intact'
      ? `audit chain intact (${c.entries} entries: ${c.keyed} keyed${c.keyId ? ` with key ${c.keyId}` : ''}, ${c.unkeyed} unkeyed (before key))${c.head ? `; head anchored at entry ${c.head.seq}` : ''}`
      : `audit log ${c.status === 'tampered' ? 'TAMPERED' : 'cannot be verified'}${c.problem?.seq ? ` at entry ${c.problem.seq}` : ''}: ${c.problem?.problem ?? ''}`;
  return [
    head,
    ...c.notes.map((n) => `  note: ${n}`),
    `  proves: ${c.proves}`,
    `  does not prove: ${c.doesNotProve}`,
  ].join('\n');
}

/** Two names of one file (symlinks and relative paths resolved); a missing file is only itself. */
function sameFile(a: string, b: string): boolean {
  const real = (f: string): string => (existsSync(f) ? realpathSync(f) : path.resolve(f));
  return real(a) === real(b);
}

function withDb<T>(path: string, fn: (db: Db) => T | Promise<T>): Promise<T> {
  const db = openExistingStore(path); // a mistyped path must not leave an empty store behind
  return Promise.resolve()
    .then(() => fn(db))
    .finally(() => db.close());
}

/** Replay captures (optionally a time slice) against a policy. */
async function simulate(
  policy: Policy,
  files: string[],
  baseline: Baseline | null,
  from: number,
  until: number,
): Promise<SimulationResult> {
  const sim = new Simulator(new CompiledPolicy(policy), baseline);
  const results = await runCaptures(files, between(from, until, sim));
  warnCaptureErrors(results);
  return sim.result();
}

/** Rows the simulation table shows at most (as discover's tables). */
const MAX_TABLE_ROWS = 5000;

interface SimOpts extends IdentityOpts {
  capture: string[];
  baseline?: string;
  version?: string;
  db?: string;
  json?: boolean;
  html?: string;
  from?: string;
  until?: string;
}
interface ChangeOpts extends IdentityOpts {
  db: string;
  note?: string;
}

export function registerPolicy(program: Command): void {
  const policy = program
    .command('policy')
    .description('policy as code: validate, propose, simulate, drift and change control');
  registerChangeRules(policy);

  policy
    .command('validate')
    .description('check policy files; errors name file, line and field')
    .argument('<files...>', 'policy YAML files')
    .action((files: string[]) => {
      let bad = 0;
      for (const f of files) {
        let text: string;
        try {
          text = readPolicyText(f);
        } catch (err) {
          process.stderr.write(`${f}: ${(err as Error).message}\n`);
          bad++;
          continue;
        }
        const r = parsePolicy(text, f);
        if (r.ok) {
          process.stdout.write(
            `${f}: ok (${r.policy.zones.length} zones, ${r.policy.conduits.length} conduits, ${r.policy.groups.length} context groups, ${r.policy.windows.length} windows)\n`,
          );
          for (const w of templateWarnings(r.policy)) process.stderr.write(`${f}: warning: ${w}\n`);
          for (const w of legacyAddressWarnings(r.policy))
            process.stderr.write(`${f}: upgrade: ${w}\n`);
        } else {
          bad++;
          for (const e of r.errors) process.stderr.write(`${formatPolicyError(e)}\n`);
        }
      }
      if (bad) process.exitCode = 1;
    });

  policy
    .command('propose')
    .description('write a least-privilege candidate policy from a learned baseline')
    .requiredOption(
      '--baseline <db>',
      'store holding the baseline (and inventory, for roles and names)',
    )
    .option('--version <n>', 'baseline version (default: latest)')
    .option('--out <file>', 'write here instead of stdout')
    .option('--site <name>', 'site name')
    .option('--timezone <tz>', 'IANA time zone for time windows', 'UTC')
    .action(
      (opts: {
        baseline: string;
        version?: string;
        out?: string;
        site?: string;
        timezone: string;
      }) =>
        withDb(opts.baseline, (db) => {
          const b = opts.version ? baselineVersion(db, Number(opts.version)) : latestBaseline(db);
          if (!b) throw new Error(`no baseline in ${opts.baseline}: run \`weir learn\` first`);
          const inv = loadInventory(db);
          const p = proposePolicy(b, inv.assets, {
            site: opts.site,
            timezone: opts.timezone,
            edges: inv.edges,
          });
          const header = [
            `Proposed by weir from baseline version ${b.version} (${new Date(b.from * 1000).toISOString()} – ${new Date(b.to * 1000).toISOString()}).`,
            'Least privilege: each context group is one flow seen while learning, with the functions and addresses it used.',
            'Zones start in observe mode. Review, simulate (`weir policy simulate`), then submit for approval.',
          ].join('\n');
          const yaml = policyToYaml(p, header);
          if (opts.out) {
            writeFileSync(opts.out, yaml);
            process.stderr.write(
              `wrote ${opts.out}: ${p.zones.length} zones, ${p.conduits.length} conduits, ${p.groups.length} context groups\n`,
            );
          } else process.stdout.write(yaml);
        }),
    );

  withIdentity(policy.command('simulate'))
    .description(
      'replay recorded traffic against a policy and show, flow by flow, what it would block',
    )
    .argument('<policy>', 'policy YAML file')
    .requiredOption('--capture <files...>', 'capture files to replay')
    .option(
      '--baseline <db>',
      'store with the baseline: marks blocked flows that are learned normal traffic (default: --db)',
    )
    .option('--version <n>', 'baseline version (default: latest)')
    .option(
      '--db <db>',
      "record the simulation in this store (evidence for change control, judged against this store's own baseline; needs a logged-in person)",
    )
    .option('--json', 'print JSON')
    .option('--html <file>', 'also write an HTML report')
    .option('--from <time>', 'replay from this time (ISO 8601, epoch seconds or N%)')
    .option('--until <time>', 'replay until this time')
    .action(async (file: string, opts: SimOpts) => {
      const { policy: p, text } = readPolicyFile(file);
      if (opts.passwordStdin && opts.capture.includes('-'))
        throw new Error(
          'standard input cannot carry both a capture and a password: log in first (weir login)',
        );
      // Evidence is bound to what it claims: a store's change control counts only its own baseline.
      if (opts.db && opts.baseline && !sameFile(opts.baseline, opts.db))
        throw new Error(
          `evidence recorded in ${opts.db} is judged against that store's own baseline: leave out --baseline (or simulate without --db to compare with ${opts.baseline})`,
        );
      // Prove who records the evidence before spending minutes on the replay.
      const recorder = opts.db
        ? await asCaller(
            opts.db,
            opts,
            CAN.recordEvidence,
            'record simulations',
            (_db, c) => c.name,
          )
        : null;
      const from = opts.from !== undefined ? parseTimeArg(opts.from, opts.capture) : -Infinity;
      const until = opts.until !== undefined ? parseTimeArg(opts.until, opts.capture) : Infinity;
      let baseline: Baseline | null = null;
      const baselineStore = opts.baseline ?? opts.db;
      if (baselineStore) {
        baseline = await withDb(baselineStore, (db) =>
          opts.version ? baselineVersion(db, Number(opts.version)) : latestBaseline(db),
        );
        if (!baseline && opts.baseline)
          throw new Error(`no baseline in ${opts.baseline}: run \`weir learn\` first`);
        if (!baseline)
          process.stderr.write(
            `warning: ${baselineStore} holds no baseline, so this simulation cannot tell learned-normal flows (change control will not count it)\n`,
          );
      }
      for (const w of legacyAddressWarnings(p)) process.stderr.write(`upgrade: ${w}\n`);
      const r = await simulate(p, opts.capture, baseline, from, until);
      let simulationId: string | undefined;
      if (opts.db && recorder !== null)
        simulationId = await withDb(opts.db, (db) =>
          recordSimulation(db, {
            text,
            source: file,
            policy: p,
            result: r,
            captures: opts.capture,
            baseline,
            actor: recorder,
          }),
        );
      if (opts.html)
        writeFileSync(
          opts.html,
          toHtml(r, {
            policy: file,
            captures: opts.capture,
            simulationId,
            generated: new Date().toISOString(),
          }),
        );
      if (opts.json)
        process.stdout.write(
          `${toJson(r, { policy: file, captures: opts.capture, simulation_id: simulationId ?? null, baseline_version: baseline?.version ?? null })}\n`,
        );
      else {
        process.stdout.write(`${plainSummary(r)}\n`);
        if (r.blocked.length) {
          // Spoofed sources can make a row each: the table stops at a readable size and says what it left out.
          const rows = tableRows(r);
          process.stdout.write(`\n${renderColumns(TABLE_HEAD, rows.slice(0, MAX_TABLE_ROWS))}\n`);
          if (rows.length > MAX_TABLE_ROWS)
            process.stdout.write(
              `… ${rows.length - MAX_TABLE_ROWS} more rows not shown (--json lists them all)\n`,
            );
        }
        const l2 = layer2Lines(r);
        if (l2.length)
          process.stdout.write(
            `\nlayer 2: frames enforcing would refuse (the kernel drops them in enforce zones, logs them in simulate zones):\n${l2.join('\n')}\n`,
          );
        const store = opts.db ?? opts.baseline;
        if (store) {
          // Next to what the policy would block: what it does to who can write to the controllers.
          const line = await withDb(store, (db) => {
            const inv = loadInventory(db);
            const paths = exposurePaths(inv.assets, inv.edges, p).paths;
            const e = policyEffect(paths, p, inv.edges);
            return `exposure: removes ${e.removed.length} of ${paths.length} write-capable paths into PLCs/RTUs seen in ${store}${e.removed.length ? ` (weir assess exposure --db ${store} --proposed ${file} lists them)` : ''}`;
          });
          process.stdout.write(`\n${line}\n`);
        }
        if (simulationId) process.stdout.write(`\nrecorded as ${simulationId}\n`);
      }
    });

  policy
    .command('drift')
    .description(
      `compare the documented policy with observed traffic; exits ${DRIFT_VIOLATED} when the traffic violates the policy (1 on errors)`,
    )
    .argument('<policy>', 'policy YAML file')
    .requiredOption('--capture <files...>', 'capture files of current traffic')
    .option('--json', 'print JSON')
    .action(async (file: string, opts: { capture: string[]; json?: boolean }) => {
      const { policy: p } = readPolicyFile(file);
      const r = await simulate(p, opts.capture, null, -Infinity, Infinity);
      const d = driftOf(p, r);
      const compiled = new CompiledPolicy(p);
      process.stdout.write(
        opts.json
          ? `${JSON.stringify(d, null, 1)}\n`
          : `${driftSummary(d, (ip) => compiled.nameOf(ip))}\n`,
      );
      // A check a script can gate on, like diff: 0 the traffic keeps to the policy, 2 it does not; an unreadable
      // capture (1, set while reading) stays the answer, since the comparison is then incomplete.
      if (d.violations.length > 0 && !process.exitCode) process.exitCode = DRIFT_VIOLATED;
    });

  withIdentity(policy.command('submit'))
    .description('propose a policy change for approval')
    .argument('<policy>', 'policy YAML file')
    .requiredOption('--db <db>', 'store')
    .option('--note <text>', 'why')
    .action((file: string, opts: ChangeOpts) =>
      asCaller(opts.db, opts, CAN.propose, 'propose changes', (db, who) => {
        const { text } = readPolicyFile(file);
        const id = submitPolicy(db, { text, source: file, actor: who.name, note: opts.note });
        process.stdout.write(
          `proposal ${id} created; needs approval by: ${listProposals(db)
            .find((x) => x.id === id)!
            .requiredRoles.join(', ')}\n`,
        );
      }),
    );

  withIdentity(policy.command('promote'))
    .description(`propose moving a zone on the ladder (${ZONE_MODES.join(' → ')})`)
    .argument('<zone>')
    .argument('<mode>')
    .requiredOption('--db <db>', 'store')
    .option('--note <text>', 'why')
    .action((zone: string, mode: string, opts: ChangeOpts) =>
      asCaller(opts.db, opts, CAN.propose, 'propose changes', (db, who) => {
        if (!(ZONE_MODES as readonly string[]).includes(mode))
          throw new Error(`mode must be one of ${ZONE_MODES.join(', ')}`);
        const id = promoteZone(db, {
          zone,
          to: mode as ZoneMode,
          actor: who.name,
          note: opts.note,
        });
        process.stdout.write(`proposal ${id} created: zone ${zone} → ${mode}\n`);
      }),
    );

  withIdentity(policy.command('approve'))
    .description('approve a proposal in one of your roles (one person, one role per proposal)')
    .argument('<id>')
    .requiredOption('--db <db>', 'store')
    .requiredOption('--role <role>', 'security, engineering or operations')
    .option('--note <text>', 'comment')
    .action((id: string, opts: ChangeOpts & { role: string }) =>
      asCaller(opts.db, opts, null, 'approve', (db, who) => {
        const p = approveProposal(db, {
          id: proposalId(id),
          actor: who.name,
          role: opts.role,
          note: opts.note,
        });
        const have = approvalsOf(db, p.id).map((a) => a.role);
        process.stdout.write(
          `proposal ${p.id}: ${p.status}${p.status === 'open' ? `; still needs ${p.requiredRoles.filter((r) => !have.includes(r)).join(', ')}` : ''}\n`,
        );
      }),
    );

  withIdentity(policy.command('reject'))
    .description(
      'close an open or approved-but-unapplied proposal without applying it (audited, with the note; an approved one takes an approving role or admin)',
    )
    .argument('<id>')
    .requiredOption('--db <db>', 'store')
    .option('--note <text>', 'why')
    .action((id: string, opts: ChangeOpts) =>
      asCaller(opts.db, opts, CAN.propose, 'reject proposals', (db, who) => {
        rejectProposal(db, { id: proposalId(id), actor: who.name, note: opts.note });
        process.stdout.write(`proposal ${id} rejected\n`);
      }),
    );

  withIdentity(policy.command('withdraw'))
    .description(
      'take back your own proposal, open or approved but not applied (audited, with the note)',
    )
    .argument('<id>')
    .requiredOption('--db <db>', 'store')
    .option('--note <text>', 'why')
    .action((id: string, opts: ChangeOpts) =>
      asCaller(opts.db, opts, null, 'withdraw proposals', (db, who) => {
        withdrawProposal(db, { id: proposalId(id), actor: who.name, note: opts.note });
        process.stdout.write(`proposal ${id} withdrawn\n`);
      }),
    );

  withIdentity(policy.command('apply'))
    .description(
      'make an approved proposal the active policy (zones going to enforce need a clean simulation); an approved block is loaded into nftables here',
    )
    .argument('<id>')
    .requiredOption('--db <db>', 'store')
    .option('--family <family>', 'nftables family for an approved block: bridge or inet', 'bridge')
    .option('--netns <name>', 'network namespace of the enforcement host (labs)')
    .option('--state-dir <dir>', 'runtime state of this enforcement host', DEFAULT_STATE_DIR)
    .option(
      '--confirm-cuts-baseline',
      'carry out an approved block even though it cuts learned-normal (baseline) flows',
    )
    .action(
      (
        id: string,
        opts: ChangeOpts & {
          family: string;
          netns?: string;
          stateDir: string;
          confirmCutsBaseline?: boolean;
        },
      ) =>
        asCaller(opts.db, opts, CAN.propose, 'apply proposals', async (db, who) => {
          if (opts.family !== 'bridge' && opts.family !== 'inet')
            throw new Error('--family is bridge or inet');
          // An approved block acts on the enforcement host: that is an enforcer's job (review 14 L4).
          if (getProposal(db, proposalId(id))?.kind === 'source_block')
            requireRole(who, CAN.enforce, 'carry out an approved block');
          const backend = enforcementBackend(opts);
          storeCoveragePct(db, opts.db);
          const r = await applyProposalVia(db, {
            id: proposalId(id),
            actor: who.name,
            confirmCutsBaseline: opts.confirmCutsBaseline,
            // What this host never blocks, read now (the gateway may have been set up since the proposal).
            neverBlock: hostNeverBlock({
              netns: opts.netns,
              stateDir: opts.stateDir,
              extra: [],
              gatewayIp: cliSettings().enforce.gateway_ip,
              subnets: zoneSubnets(activePolicy(db)?.policy),
            }),
            carryOutBlock: (b) => backend.block(b.ip, b.ttl, `proposal ${id}`),
          });
          if (r.block) {
            if (r.cutsBaseline)
              process.stderr.write(
                `warning: this block cuts ${r.cutsBaseline.length} baseline flow(s), as confirmed:\n${describeCuts(r.cutsBaseline)}\n`,
              );
            process.stdout.write(
              `proposal ${id} applied: ${r.block.ip} blocked for ${r.block.ttl} s\n`,
            );
            return;
          }
          process.stdout.write(
            `proposal ${id} applied${r.simulationId ? ` (evidence: ${r.simulationId})` : ''}\n`,
          );
        }),
    );

  policy
    .command('proposals')
    .description('list proposals: status, who made them, which roles they need and who approved')
    .requiredOption('--db <db>', 'store')
    .action((opts: { db: string }) =>
      withDb(opts.db, (db) => {
        const rows = listProposals(db).map((p) => [
          String(p.id),
          p.kind,
          p.zone ?? '',
          p.status,
          p.createdBy,
          p.createdAt.slice(0, 19),
          p.requiredRoles.join(','),
          approvalsOf(db, p.id)
            .map((a) => `${a.user}:${a.role}`)
            .join(' '),
          p.note,
        ]);
        process.stdout.write(
          `${renderColumns(['id', 'kind', 'zone', 'status', 'by', 'created', 'needs', 'approved', 'note'], rows)}\n`,
        );
        // Why an approval given no longer counts (review 14 C3): its giver was removed or lost the role.
        for (const p of listProposals(db).filter(
          (p) => p.status === 'open' || p.status === 'approved',
        )) {
          const why = describeLapsed(p.id, lapsedApprovals(db, p));
          if (why !== null) process.stdout.write(`${why}\n`);
        }
      }),
    );

  withIdentity(policy.command('audit'))
    .description(
      'print the audit log and verify it: hash chain, MACs with the audit key, and the anchored head',
    )
    .requiredOption('--db <db>', 'store')
    .option('--json', 'JSON lines')
    .option(
      '--reanchor',
      "admin: anchor the head at the log's current end although it disagrees (restored backup, lost head), on the record",
    )
    .option('--new-key', 'admin: start a new audit key because the old one is lost, on the record')
    .option('--reason <text>', 'why (required with --reanchor and --new-key)')
    .action(
      async (
        opts: IdentityOpts & {
          db: string;
          json?: boolean;
          reanchor?: boolean;
          newKey?: boolean;
          reason?: string;
        },
      ) => {
        if (opts.reanchor || opts.newKey) {
          if (!opts.reason)
            throw new Error('--reason is required: re-anchoring is recorded with why');
          const e = await asCaller(
            opts.db,
            opts,
            CAN.manageUsers,
            're-anchor the audit log',
            (db, who) =>
              reanchorAudit(db, {
                actor: who.name,
                reason: opts.reason!,
                newKey: opts.newKey === true,
              }),
          );
          process.stderr.write(`audit head anchored at entry ${e.seq} (${e.action})\n`);
        }
        await withDb(opts.db, (db) => {
          const entries = listAudit(db, 100_000);
          if (opts.json) for (const e of entries) process.stdout.write(`${JSON.stringify(e)}\n`);
          else {
            // The simulation column only when an entry cites one (a narrow screen's records leave it out anyway).
            const sims = entries.some((e) => e.simulationId);
            process.stdout.write(
              `${renderColumns(
                [
                  'seq',
                  'at',
                  'actor',
                  'action',
                  'subject',
                  ...(sims ? ['simulation'] : []),
                  'details',
                ],
                entries.map((e) => [
                  String(e.seq),
                  e.at,
                  e.actor,
                  e.action,
                  e.subject,
                  ...(sims ? [e.simulationId ?? ''] : []),
                  JSON.stringify(e.details),
                ]),
              )}\n`,
            );
          }
          const c = checkAudit(db);
          process.stderr.write(`${describeAuditCheck(c)}\n`);
          if (c.status === 'tampered') process.exitCode = 2;
          else if (c.status === 'unverifiable') process.exitCode = 3;
        });
      },
    );
}
