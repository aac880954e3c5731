import type { TemporaryPermit } from './playbook-kernel.js';

/** How often a failed listing of the kernel's permits (the seed) is tried again, at most. */
const SEED_RETRY_MS = 10_000;

const flowKey = (p: TemporaryPermit): string => `${p.client}|${p.server}|${p.transport}|${p.port}`;

/**
 * Who holds a live permit, for a block that rests on a forgeable signal: Weir's own records of the permits it
 * granted, looked at on every question (a stat of the record files, re-read when they changed; no process, no
 * timer). A grant is recorded before the kernel lets its flow in, so no permit in force is missed, however
 * fresh. Permits the kernel holds without a record — given by a Weir before records were kept — are listed from
 * the kernel once at start and kept until their kernel time runs out (on the monotonic clock): erring on the
 * side of not blocking a permit holder on a signal anyone can forge.
 */
export class PermitView {
  private seeds: Array<{ p: TemporaryPermit; endsMs: number }> | null = null;
  private seeding: Promise<void> | null = null;
  private seedTriedAt = -Infinity;

  constructor(
    /** Weir's records (sync; throws when they cannot be read). */
    private readonly records: () => TemporaryPermit[],
    /** The kernel's listing (starts processes): read once, for the permits that have no record. */
    private readonly kernel: () => Promise<TemporaryPermit[]>,
    private readonly clock: () => number = () => performance.now(),
  ) {}

  /** List the kernel's permits once, in the background. */
  start(): void {
    this.seed();
  }

  /**
   * The kernel's listing while it is under way and nothing is known of it yet (the first questions after the
   * start wait for it); null once it is in, or while its last try failed (the records answer alone meanwhile).
   */
  seeded(): Promise<void> | null {
    return this.seeds === null ? this.seeding : null;
  }

  /** The permits in force now; throws when the records cannot be read. */
  current(): TemporaryPermit[] {
    const recorded = this.records();
    if (this.seeds === null) this.seed();
    const now = this.clock();
    const seen = new Set(recorded.map(flowKey));
    const out = [...recorded];
    for (const s of this.seeds ?? [])
      if (s.endsMs > now && !seen.has(flowKey(s.p))) {
        seen.add(flowKey(s.p));
        out.push({ ...s.p, expiresIn: Math.ceil((s.endsMs - now) / 1000) });
      }
    return out;
  }

  private seed(): void {
    if (this.seeding !== null || this.clock() - this.seedTriedAt < SEED_RETRY_MS) return;
    const at = (this.seedTriedAt = this.clock());
    this.seeding = this.kernel()
      .then((list) => {
        // No timeout known (nft left it out): kept a day, the longest a permit is given for.
        this.seeds = list.map((p) => ({ p, endsMs: at + (p.expiresIn ?? 86_400) * 1000 }));
      })
      .catch(() => undefined)
      .finally(() => (this.seeding = null));
  }
}
