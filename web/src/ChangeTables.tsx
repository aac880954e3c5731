import type { ReactNode } from 'react';
import { when } from './api';

/**
 * The change-control tables this server's own pages and the manager's per-site pages both show: pre-approved
 * playbooks, what they did, and change proposals. `bySite`: the manager's read-only view of what sites sent
 * (a site column first, rows keyed by site, the cells as that view has always shown them); the local pages
 * add a last column of their own (undo, approve) through `action`.
 */

/** A zone's pre-approved playbook (`site`: the site whose policy holds it, on the manager). */
export interface PlaybookDef {
  site?: string;
  zone: string;
  name: string;
  mode: string;
  on: string[];
  actions: string[];
  blockTtl: number;
  rateLimit: { max: number; per: number };
  approvals: string[];
}

/** What a playbook did or would have done for one detection. */
export interface PlaybookAction {
  site?: string;
  id: string;
  at: number;
  zone: string;
  playbook: string;
  mode: string;
  kind: string;
  target: string;
  ttlS?: number | null;
  expiresAt?: number | null;
  detectionId: string;
  detectionType: string;
  status: string;
  reason: string;
  undoneBy: string | null;
}

/** A change proposal and who approved it so far. */
export interface Proposal {
  site?: string;
  id: number;
  kind: string;
  zone: string | null;
  status: string;
  createdBy: string;
  createdAt: string;
  note: string;
  requiredRoles: string[];
  approvals: Array<{ user: string; role: string }>;
  doc: Record<string, unknown>;
  /** Why approvals given no longer count (their giver was removed or lost the role): it cannot be applied. */
  lapsed?: string;
}

const key = (site: string | undefined, ...rest: Array<string | number>): string =>
  [...(site === undefined ? [] : [site]), ...rest].join('/');

export function PlaybookTable({
  testId,
  playbooks,
  bySite = false,
}: {
  testId: string;
  playbooks: PlaybookDef[];
  bySite?: boolean;
}) {
  return (
    <table data-testid={testId}>
      <thead>
        <tr>
          {bySite && <th>site</th>}
          <th>zone</th>
          <th>playbook</th>
          <th>mode</th>
          <th>on</th>
          <th>does</th>
          <th>limit</th>
          <th>approved by</th>
        </tr>
      </thead>
      <tbody>
        {playbooks.map((p) => (
          <tr key={key(p.site, p.zone, p.name)}>
            {bySite && <td>{p.site}</td>}
            <td>{p.zone}</td>
            <td>{p.name}</td>
            <td>{p.mode}</td>
            <td>{p.on.join(', ')}</td>
            <td>
              {p.actions
                .map((x) => (x === 'block_source' ? `block source ${p.blockTtl} s` : x))
                .join(', ')}
            </td>
            <td>
              {p.rateLimit.max} per {p.rateLimit.per} s
            </td>
            <td>{p.approvals.join(', ')}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** Playbook actions; the local page (not `bySite`) also shows each one's time to live and why it failed. */
export function ActionTable<A extends PlaybookAction>({
  testId,
  actions,
  bySite = false,
  action,
}: {
  testId: string;
  actions: A[];
  bySite?: boolean;
  action?: (a: A) => ReactNode;
}) {
  return (
    <table data-testid={testId}>
      <thead>
        <tr>
          {bySite && <th>site</th>}
          <th>when</th>
          <th>zone/playbook</th>
          <th>action</th>
          <th>target</th>
          <th>status</th>
          <th>detection</th>
          {action && <th></th>}
        </tr>
      </thead>
      <tbody>
        {actions.map((a) => (
          <tr key={key(a.site, a.id)} data-action={bySite ? undefined : a.id}>
            {bySite && <td>{a.site}</td>}
            <td>{when(a.at)}</td>
            <td>
              {a.zone}/{a.playbook} ({a.mode})
            </td>
            <td>
              {a.kind}
              {!bySite && a.ttlS ? ` ${a.ttlS} s` : ''}
            </td>
            <td>{a.target}</td>
            <td title={a.reason}>
              {a.status}
              {a.undoneBy ? ` by ${a.undoneBy}` : ''}
              {!bySite && (a.status === 'refused' || a.status === 'failed') ? `: ${a.reason}` : ''}
            </td>
            <td>
              {a.detectionType} <code>{a.detectionId}</code>
            </td>
            {action && <td>{action(a)}</td>}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** Change proposals in the order given; the local page (not `bySite`) also names a proposal's address. */
export function ProposalTable<P extends Proposal>({
  testId,
  items,
  bySite = false,
  action,
}: {
  testId: string;
  items: P[];
  bySite?: boolean;
  action?: (p: P) => ReactNode;
}) {
  return (
    <table data-testid={testId}>
      <thead>
        <tr>
          {bySite && <th>site</th>}
          <th>#</th>
          <th>what</th>
          <th>zone</th>
          <th>by</th>
          <th>status</th>
          <th>needs</th>
          <th>approved</th>
          {action && <th></th>}
        </tr>
      </thead>
      <tbody>
        {items.map((p) => (
          <tr key={key(p.site, p.id)}>
            {bySite && <td>{p.site}</td>}
            <td>{p.id}</td>
            <td>
              {p.kind}
              {!bySite && p.doc.ip ? ` ${String(p.doc.ip)}` : ''}
              {p.doc.to ? ` → ${String(p.doc.to)}` : ''} <small>{p.note}</small>
            </td>
            <td>{p.zone ?? ''}</td>
            <td>{p.createdBy}</td>
            <td>
              {p.status}
              {p.lapsed && <small data-testid="lapsed"> {p.lapsed}</small>}
            </td>
            <td>{p.requiredRoles.join(', ')}</td>
            <td>{p.approvals.map((a) => `${a.user} (${a.role})`).join(', ')}</td>
            {action && <td>{action(p)}</td>}
          </tr>
        ))}
      </tbody>
    </table>
  );
}
