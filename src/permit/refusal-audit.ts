import type { AuditSink } from './service.js';

/**
 * What a permitted person did that the gateway refused (a write outside the template's registers, a function
 * it does not list) and the end of their permitted connections, into the audit log under their identity. The
 * gateway's own event log has every line; the audit keeps at most `perMinute` entries per person and client a
 * minute, and says how many more it left out, so a flood of refusals cannot bury the log.
 */
export class PermitRefusalAudit {
  private readonly windows = new Map<string, { start: number; n: number; left: number }>();

  constructor(
    private readonly sink: AuditSink,
    private readonly perMinute = 10,
    private readonly now: () => number = Date.now,
  ) {}

  /** Feed every gateway event; only those of permitted connections are kept. */
  note(e: Record<string, unknown>): void {
    if (typeof e.user !== 'string') return;
    const action =
      e.event === 'denied'
        ? 'permit.request_refused'
        : e.event === 'connection_closed'
          ? 'permit.connection_closed'
          : null;
    if (action === null) return;
    const k = `${e.user} ${String(e.client)}`;
    const t = this.now();
    let w = this.windows.get(k);
    if (w === undefined || t - w.start >= 60_000) {
      const left = w?.left ?? 0;
      w = { start: t, n: 0, left: 0 };
      this.windows.set(k, w);
      if (this.windows.size > 10_000) this.windows.delete(this.windows.keys().next().value!);
      if (left > 0) e = { ...e, earlier_left_out: left };
    }
    if (w.n >= this.perMinute) {
      w.left++;
      return;
    }
    w.n++;
    const { event: _e, user, directory, template, ...rest } = e;
    this.sink({
      actor: typeof directory === 'string' ? `${directory}:${String(user)}` : String(user),
      action,
      subject: `${String(e.client)} → ${String(e.server)}:${String(e.port)}`,
      details: { template, ...rest },
    });
  }
}
