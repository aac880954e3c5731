import type { TemporaryPermit } from './playbook-kernel.js';

/**
 * The live permits as the kernel last listed them, kept warm in the background: a scan's block must know at
 * once whether its source holds one (listing the kernel's sets starts nft processes, tens of milliseconds and
 * far more on a loaded host, which the detection → block path cannot wait for). A list older than `maxAgeMs`
 * is not trusted: the caller waits for a fresh one. So a permit granted within that time may be missed — the
 * price of blocking within milliseconds; its holder is then treated like any source without a permit.
 */
export class PermitView {
  private list: TemporaryPermit[] | null = null;
  /** When the read that gave `list` started (ms): its age is counted from then. */
  private at = -Infinity;
  private reading: Promise<TemporaryPermit[]> | null = null;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly read: () => Promise<TemporaryPermit[]>,
    private readonly maxAgeMs = 2000,
    private readonly clock: () => number = () => performance.now(),
  ) {}

  /** Read now and every half `maxAgeMs` from here on (the timer does not keep the process alive). */
  start(): void {
    if (this.timer !== null) return;
    this.refresh().catch(() => undefined);
    this.timer = setInterval(
      () => this.refresh().catch(() => undefined),
      this.maxAgeMs / 2,
    ).unref();
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  /** The kept list when it is young enough, else null: no await, so a block decided on it waits for nothing. */
  fresh(): TemporaryPermit[] | null {
    return this.list !== null && this.clock() - this.at <= this.maxAgeMs ? this.list : null;
  }

  /** The permits, from the kept list when it is young enough, else from a fresh read (rejects when that fails). */
  current(): Promise<TemporaryPermit[]> {
    const l = this.fresh();
    return l !== null ? Promise.resolve(l) : this.refresh();
  }

  private refresh(): Promise<TemporaryPermit[]> {
    if (this.reading !== null) return this.reading;
    const started = this.clock();
    this.reading = this.read()
      .then((l) => {
        this.list = l;
        this.at = started;
        return l;
      })
      .finally(() => (this.reading = null));
    return this.reading;
  }
}
