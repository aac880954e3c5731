/** The compliance report as one self-contained HTML page (printable to PDF by Chromium). Pure. */
import type { ComplianceReport } from './compliance-report.js';

const esc = (s: string) =>
  s.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );

const COLOR: Record<string, string> = {
  met: '#1e8449',
  partly: '#b9770e',
  'not met': '#c0392b',
  'no evidence': '#7f8c8d',
};

export function complianceHtml(r: ComplianceReport): string {
  const rows = r.requirements
    .map(
      (q) => `<tr>
  <td><strong>${esc(q.id)}</strong><br>${esc(q.title)}<br><small>${esc(q.nerc)}</small></td>
  <td class="status" style="color:${COLOR[q.status]}" data-status="${esc(q.status)}">${esc(q.status)}</td>
  <td>${esc(q.finding)}${q.evidence.length ? `<ul>${q.evidence.map((e) => `<li>${esc(e)}</li>`).join('')}</ul>` : ''}</td>
</tr>`,
    )
    .join('\n');
  const tie = r.audit.headHash
    ? `audit log entry ${r.audit.headSeq}, sha256 <code>${esc(r.audit.headHash)}</code> (${esc(r.audit.status)}, ${r.audit.entries} entries)`
    : `an empty audit log (${esc(r.audit.status)})`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>IEC 62443-3-3 evidence — ${esc(r.site ?? 'plant')} — ${esc(r.generatedAt.slice(0, 10))}</title>
<style>
 body { font: 11pt/1.4 sans-serif; margin: 2em; color: #222; }
 table { border-collapse: collapse; width: 100%; }
 td, th { border: 1px solid #ccc; padding: 6px; vertical-align: top; text-align: left; }
 td.status { font-weight: bold; white-space: nowrap; }
 small { color: #555; }
 code { font-size: 9pt; word-break: break-all; }
 @page { size: A4; margin: 15mm; }
</style></head>
<body>
<h1>IEC 62443-3-3 system requirements: evidence from Weir</h1>
<p id="dated">Site <strong>${esc(r.site ?? '(no active policy)')}</strong>. Generated ${esc(r.generatedAt)}. Tied to ${tie}.</p>
<p id="counts">${Object.entries(r.counts)
    .map(([k, n]) => `${n} ${esc(k)}`)
    .join(
      ', ',
    )}. Statuses say what Weir can see in its store; "no evidence" means Weir holds nothing to judge by, not that the requirement fails. NERC CIP counterparts are given per requirement.</p>
<table id="requirements">
<thead><tr><th>requirement</th><th>status</th><th>finding and evidence</th></tr></thead>
<tbody>
${rows}
</tbody></table>
</body></html>
`;
}
