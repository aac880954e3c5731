import type { Command } from 'commander';
import { inStore } from '../identity.js';
import { advisoryCount } from '../../store/advisory-store.js';
import { vulnerabilityReport } from '../../assess/vuln-report.js';
import type { Confidence } from '../../assess/advisories/match.js';
import type { VulnerabilityReport } from '../../assess/vulnerabilities.js';
import { renderColumns } from '../columns.js';
import { riskReport, type RiskReport } from '../../assess/risk-report.js';
import { parsePolicy, readPolicyText } from '../../policy/load.js';
import { formatPolicyError } from '../../policy/errors.js';
import type { Db } from '../../store/db.js';
import { complianceReport } from '../../assess/compliance-report.js';
import { complianceHtml } from '../../assess/compliance-html.js';
import { printToPdf } from '../pdf.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const LEVELS: Confidence[] = ['exact', 'family', 'possible'];

export function registerAssess(program: Command): void {
  const cmd = program
    .command('assess')
    .description('assess the plant: vulnerabilities from offline advisories');
  cmd
    .command('vulns')
    .requiredOption('--db <path>', 'store holding the inventory and the imported advisories')
    .option(
      '--json',
      'print the report as JSON (per asset: addresses, advisories, CVEs, confidence, reason, CVSS, fix, window)',
    )
    .option(
      '--min-confidence <level>',
      'exact (order/catalog number or model, firmware in range), family (family, firmware in range) or possible (firmware unknown or range unreadable)',
      'family',
    )
    .description('which assets the imported advisories apply to, worst first')
    .action((opts: { db: string; json?: boolean; minConfidence: string }) => {
      if (!LEVELS.includes(opts.minConfidence as Confidence))
        throw new Error(
          `--min-confidence: '${opts.minConfidence}' is not one of ${LEVELS.join(', ')}`,
        );
      inStore(opts.db, (db) => {
        if (advisoryCount(db) === 0)
          throw new Error(
            `no advisories in ${opts.db}: weir advisories import PATH --db ${opts.db}`,
          );
        const r = vulnerabilityReport(db, { minConfidence: opts.minConfidence as Confidence });
        process.stdout.write(opts.json ? JSON.stringify(r, null, 1) + '\n' : text(r));
      });
    });
  registerRiskCommands(cmd);
  cmd
    .command('compliance')
    .requiredOption('--db <path>', 'store to take the evidence from')
    .option('--json', 'print the requirements as JSON')
    .option('--html <file>', 'write the report as HTML')
    .option('--pdf <file>', 'print the report to PDF with headless Chromium')
    .description(
      'IEC 62443-3-3 requirements Weir can evidence (with NERC CIP counterparts): status and evidence, dated and tied to the audit log',
    )
    .action((opts: { db: string; json?: boolean; html?: string; pdf?: string }) => {
      const r = inStore(opts.db, complianceReport);
      const html = complianceHtml(r);
      if (opts.html) writeFileSync(opts.html, html);
      if (opts.pdf) {
        let src = opts.html;
        const tmp = src ? null : mkdtempSync(path.join(tmpdir(), 'weir-report-'));
        if (tmp) writeFileSync((src = path.join(tmp, 'report.html')), html);
        try {
          printToPdf(src!, opts.pdf);
        } finally {
          if (tmp) rmSync(tmp, { recursive: true, force: true });
        }
      }
      if (opts.json) {
        process.stdout.write(JSON.stringify(r, null, 1) + '\n');
        return;
      }
      const rows = r.requirements.map((q) => [q.id, q.status, q.title, q.finding]);
      process.stdout.write(
        `${r.site ?? 'plant'}, ${r.generatedAt}, audit log ${r.audit.headSeq !== null ? `entry ${r.audit.headSeq} sha256 ${r.audit.headHash}` : 'empty'} (${r.audit.status})\n` +
          renderColumns(['SR', 'STATUS', 'REQUIREMENT', 'FINDING'], rows) +
          '\n' +
          [opts.html && `HTML: ${opts.html}`, opts.pdf && `PDF: ${opts.pdf}`]
            .filter(Boolean)
            .map((l) => `${l}\n`)
            .join(''),
      );
    });
}

function report(db: Db, proposedFile?: string): RiskReport {
  if (!proposedFile) return riskReport(db);
  const r = parsePolicy(readPolicyText(proposedFile), proposedFile);
  if (!r.ok)
    throw new Error(
      `${proposedFile} is not a valid policy:\n${r.errors.map(formatPolicyError).join('\n')}`,
    );
  return riskReport(db, { proposed: { policy: r.policy, source: proposedFile } });
}

function readOnly(
  name: string,
  description: string,
  render: (r: RiskReport, json: boolean) => string,
  withProposed = false,
) {
  return (cmd: Command) => {
    const c = cmd
      .command(name)
      .requiredOption(
        '--db <path>',
        'store holding the inventory (and advisories, detections, the active policy)',
      )
      .option('--json', 'print JSON')
      .description(description);
    if (withProposed)
      c.option('--proposed <policy.yaml>', 'also show which paths this proposed policy removes');
    c.action((opts: { db: string; json?: boolean; proposed?: string }) => {
      inStore(opts.db, (db) => {
        process.stdout.write(render(report(db, opts.proposed), Boolean(opts.json)));
      });
    });
  };
}

export const registerRiskCommands = (cmd: Command): void => {
  readOnly(
    'exposure',
    'who can write to, control or program each PLC/RTU, through which zones and conduits (lower-trust sources first)',
    (r, json) => {
      if (json)
        return JSON.stringify({ exposure: r.exposure, proposed: r.proposed }, null, 1) + '\n';
      const out = [
        `${r.exposure.paths.length} write-capable paths into ${r.exposure.targets} PLCs/RTUs (policy: ${r.policy ?? 'none active'})`,
      ];
      const removed = new Map((r.proposed?.removed ?? []).map((x) => [x.path.summary, x.why]));
      for (const p of r.exposure.paths) {
        const cut = r.proposed ? removed.get(p.summary) : undefined;
        out.push(
          `${p.summary}${r.proposed ? (cut ? `  [removed by ${r.proposed.source}: ${cut}]` : `  [kept by ${r.proposed.source}]`) : ''}`,
        );
      }
      if (r.proposed)
        out.push(
          `${r.proposed.source}: removes ${r.proposed.removed.length} of ${r.proposed.removed.length + r.proposed.kept.length} paths`,
        );
      return out.join('\n') + '\n';
    },
    true,
  )(cmd);
  readOnly(
    'risk',
    'risk per asset and per zone, highest first, each score with its factors in words',
    (r, json) => {
      if (json) return JSON.stringify(r.risk, null, 1) + '\n';
      const rows = r.risk.assets
        .filter((a) => a.score > 0)
        .map((a) => [
          String(a.score),
          a.addresses.join(' '),
          a.role,
          a.zone ?? '-',
          `${a.consequence.why}; ${a.exposure.why}; ${a.vulnerability.why}; ${a.detection.why}`,
        ]);
      const zones = r.risk.zones.map((z) => [String(z.score), z.zone, z.why]);
      return (
        renderColumns(['RISK', 'ASSET', 'ROLE', 'ZONE', 'WHY'], rows) +
        '\n\n' +
        renderColumns(['RISK', 'ZONE', 'WHY'], zones) +
        '\n'
      );
    },
  )(cmd);
  readOnly(
    'patch-plan',
    'vulnerable assets by risk, placed in the next maintenance window, with what a restart interrupts',
    (r, json) => {
      if (json) return JSON.stringify(r.patchPlan, null, 1) + '\n';
      if (r.patchPlan.length === 0)
        return 'nothing to patch: no imported advisory applies to an asset\n';
      return (
        r.patchPlan
          .map(
            (s, i) =>
              `${i + 1}. ${s.addresses.join(' ')}${s.zone ? ` (zone ${s.zone})` : ''}, risk ${s.risk}: ${s.advisories.join(', ')}\n   ${s.note}\n   a restart interrupts: ${s.interrupts.length ? s.interrupts.join('; ') : 'nothing observed'}`,
          )
          .join('\n') + '\n'
      );
    },
  )(cmd);
};

function text(r: VulnerabilityReport): string {
  const rows: string[][] = [];
  for (const a of r.assets)
    for (const f of a.findings)
      rows.push([
        a.addresses.join(' '),
        [a.vendor, a.model, a.firmware].filter(Boolean).join(' '),
        f.advisoryId,
        f.cvss ? `${f.cvss.score.toFixed(1)}` : '-',
        f.confidence,
        f.fixAvailable ? (f.window ? `yes, ${f.window.name}` : 'yes') : 'no',
        `${f.cves.join(' ')}: ${f.reason}`,
      ]);
  const head = `${r.assets.length} vulnerable assets, ${r.byAdvisory.length} advisories apply (of ${r.advisories} imported; confidence ${r.minConfidence} or better)\n`;
  const windows =
    r.maintenanceWindows.length > 0
      ? `maintenance windows: ${r.maintenanceWindows.map((w) => `${w.name} (${w.when}${w.nextStart ? `, next ${w.nextStart}` : ''})`).join('; ')}\n`
      : '';
  if (rows.length === 0) return head + windows;
  return (
    head +
    windows +
    renderColumns(['ASSET', 'IDENTITY', 'ADVISORY', 'CVSS', 'CONFIDENCE', 'FIX', 'WHY'], rows) +
    '\n'
  );
}
