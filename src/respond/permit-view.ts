import type { TemporaryPermit } from './playbook-kernel.js';

/** How often a failed listing of the kernel's permits (the seed) is tried again, at most. */
const SEED_RETRY_MS = 10_000;
/**
 * How old the kernel's listing may be when a block asks: older, it is listed again first. A permit whose record
 * could not be written (a full or read-only state folder) is in the kernel only (review 13, L7).
 */
export const RELIST_MS = 10_000;

const flowKey = (p: TemporaryPermit): string => `${p.client}|${p.server}|${p.transport}|${p.port}`;

/**
 * Who holds a live permit, for a block that rests on a forgeable signal: Weir's own records of the permits it
 * granted, looked at on every question (a stat of the record files, re-read when they changed; no process, no
 * timer). A grant is recorded before the kernel lets its flow in, so no recorded permit is missed, however
 * fresh. Permits the kernel holds without a record — given by a Weir before records were kept, or while the
 * state folder was full or read-only, or in a records file set aside as unparsable — come from the kernel's
 * listing: taken at start, and again before a block asks once it is RELIST_MS old (one nft process per 10 s
 * at most, only while such blocks are asked), each kept until its kernel time runs out (on the monotonic
 * clock): erring on the side of not blocking a permit holder on a signal anyone can forge.
 */
export class PermitView {
  private seeds: Array<{ p: TemporaryPermit; endsMs: number }> | null = null;
  private seeding: Promise<void> | null = null;
  private seedTriedAt = -Infinity;
  /** When the listing in use was taken. */
  private listedAt = -Infinity;

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
   * The kernel's listing while it is under way and the one in use is missing or RELIST_MS old (a block waits
   * for it); null once it is in, or while its last try failed (the records and the older listing answer alone
   * meanwhile).
   */
  seeded(): Promise<void> | null {
    if (this.clock() - this.listedAt < RELIST_MS) return null;
    this.seed();
    return this.seeding;
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
        this.listedAt = at;
      })
      .catch(() => undefined)
      .finally(() => (this.seeding = null));
  }
}
