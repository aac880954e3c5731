interface Window {
  client: string;
  server: string;
  port: number;
  from: number;
  to: number;
  pdus: number;
  reasons: Set<string>;
  timer: NodeJS.Timeout;
}

/**
 * Fail-open windows, one per client and server: when the gateway's own inspection fails, the PDUs of that
 * client pass unchecked. Each window is logged when it opens and, after a quiet spell, closed with its span and
 * how many PDUs went through unchecked — so an auditor can tell whose traffic was not inspected, and when.
 */
export class FailOpenWindows {
  private readonly open = new Map<string, Window>();

  constructor(
    private readonly log: (e: Record<string, unknown>) => void,
    private readonly quietSeconds: number,
  ) {}

  get count(): number {
    return this.open.size;
  }

  note(client: string, server: string, port: number, reason: string): void {
    const now = Date.now();
    const k = `${client}|${server}:${port}`;
    let w = this.open.get(k);
    if (w === undefined) {
      w = {
        client,
        server,
        port,
        from: now,
        to: now,
        pdus: 0,
        reasons: new Set(),
        timer: setTimeout(() => this.close(k), this.quietSeconds * 1000),
      };
      this.open.set(k, w);
      this.log({
        event: 'fail_open',
        phase: 'start',
        client,
        server,
        port,
        reason,
        from: new Date(now).toISOString(),
      });
    }
    w.to = now;
    w.pdus++;
    if (w.reasons.size < 10) w.reasons.add(reason);
    w.timer.refresh();
  }

  closeAll(): void {
    for (const k of [...this.open.keys()]) this.close(k);
  }

  private close(k: string): void {
    const w = this.open.get(k);
    if (w === undefined) return;
    clearTimeout(w.timer);
    this.open.delete(k);
    this.log({
      event: 'fail_open',
      phase: 'end',
      client: w.client,
      server: w.server,
      port: w.port,
      from: new Date(w.from).toISOString(),
      to: new Date(w.to).toISOString(),
      pdus_unchecked: w.pdus,
      reasons: [...w.reasons],
    });
  }
}
