export interface ThrottleOptions {
  /** Requests per second a client may send through the gateway, sustained. */
  rate: number;
  /** Requests it may send at once after a quiet spell. */
  burst: number;
  /** A refused request costs this many allowed ones: a client that keeps getting refusals slows down fast. */
  refusalCost: number;
  /**
   * Inspection time (µs) one request includes; beyond it a request costs one more per this many µs. A client
   * whose PDUs are costly to inspect (thousands of services in one PDU) is charged for the time, not the count.
   */
  requestMicros: number;
  now?: () => number;
}

/**
 * Per-client request budget (a token bucket per client address, over all its connections). A client over
 * budget is paused — its sockets are not read, TCP pushes back — until the bucket refills: one client
 * flooding the gateway, with many requests or with costly ones, slows itself, not the other clients, and never
 * makes the gateway wave traffic through.
 */
export class ClientThrottle {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly now: () => number;

  constructor(private readonly opts: ThrottleOptions) {
    this.now = opts.now ?? Date.now;
  }

  /**
   * Spend for `requests` allowed and `refused` refused requests that took `micros` of inspection together;
   * returns ms to wait before reading on (0: go on).
   */
  spend(client: string, requests: number, refused: number, micros = 0): number {
    const now = this.now();
    let b = this.buckets.get(client);
    if (b === undefined) {
      if (this.buckets.size > 50_000) this.prune(now);
      b = { tokens: this.opts.burst, at: now };
      this.buckets.set(client, b);
    }
    b.tokens = Math.min(this.opts.burst, b.tokens + ((now - b.at) / 1000) * this.opts.rate);
    b.at = now;
    const included = (requests + refused) * this.opts.requestMicros;
    b.tokens -=
      requests +
      refused * this.opts.refusalCost +
      Math.max(0, micros - included) / this.opts.requestMicros;
    return b.tokens >= 0 ? 0 : Math.ceil((-b.tokens / this.opts.rate) * 1000);
  }

  private prune(now: number): void {
    for (const [k, b] of this.buckets) if (now - b.at > 60_000) this.buckets.delete(k);
  }
}
