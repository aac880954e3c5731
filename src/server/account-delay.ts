/** How an account's wrong passwords slow its next checks (settings iam.portal). */
export interface AccountDelayLimits {
  /** Wrong passwords in a row that cost nothing. */
  free: number;
  /** The wait after the first wrong password beyond those (seconds); it doubles with each one after. */
  baseS: number;
  /** The longest wait (seconds). */
  maxS: number;
}

/** An address that won a permit for an account is trusted for it this long. */
const TRUST_S = 30 * 24 * 3600;
/** Accounts remembered at most (the stalest are forgotten first). */
const MAX_ACCOUNTS = 50_000;

interface State {
  /** Wrong passwords in a row. */
  failures: number;
  lastWrongAt: number;
  /** Checks under way (the directory has not answered). */
  pending: number;
  /** Beyond the free ones, no password of this account is checked before this (epoch seconds). */
  nextAt: number;
  /** Attempts turned away since the last wrong password (for the audit). */
  turnedAway: number;
  /** Addresses that won a permit for the account, until when they are trusted. */
  trusted: Map<string, number>;
}

export interface AccountDelayed {
  delayS: number;
  failures: number;
  turnedAway: number;
}

export type AccountReservation =
  | {
      ok: true;
      /**
       * The directory's outcome ('wrong' password, 'right', 'other': it did not say); the delay it starts, if
       * any (to audit).
       */
      done(outcome: 'wrong' | 'right' | 'other'): AccountDelayed | null;
    }
  | { ok: false; retryAfter: number };

/**
 * Wrong passwords for one directory account, from whatever address: after `free` of them in a row each check of
 * that account waits, twice as long after each further wrong one, up to `maxS`, one check at a time — so many
 * addresses of the plant LAN cannot guess a password, nor make the directory lock the account (Active
 * Directory's lockout would deny the engineer everywhere); attempts turned away never reach the directory. It is
 * a delay, never a lock: the wait is at most `maxS` after the last wrong password the directory saw; an address
 * that won a permit for the account before is not held by it (the engineer's own laptop), nor is an operator
 * (POST /api/permits, a session). A right password clears it; so do `4 × maxS` without a wrong one.
 */
export class AccountDelay {
  private readonly accounts = new Map<string, State>();

  constructor(
    private readonly limits: AccountDelayLimits,
    private readonly clock: () => number = () => Date.now() / 1000,
  ) {}

  /** Take the right to check one password of `account` from `ip` now, or learn how long to wait. */
  reserve(account: string, ip: string): AccountReservation {
    const now = this.clock();
    const s = this.state(account);
    if (s.failures > 0 && now - s.lastWrongAt > 4 * this.limits.maxS) {
      s.failures = 0;
      s.nextAt = 0;
    }
    const trusted = (s.trusted.get(ip) ?? 0) > now;
    // Checks under way count too: concurrent guesses cannot all slip in before the first wrong one is counted.
    if (
      !trusted &&
      s.failures + s.pending >= this.limits.free &&
      (now < s.nextAt || s.pending > 0)
    ) {
      s.turnedAway++;
      return { ok: false, retryAfter: Math.max(1, Math.ceil(s.nextAt - now)) };
    }
    s.pending++;
    let settled = false;
    return {
      ok: true,
      done: (outcome) => {
        if (settled) return null;
        settled = true;
        s.pending--;
        const t = this.clock();
        if (outcome === 'right') {
          Object.assign(s, { failures: 0, nextAt: 0, turnedAway: 0 });
          s.trusted.set(ip, t + TRUST_S);
        }
        if (outcome !== 'wrong') return null;
        s.failures++;
        s.lastWrongAt = t;
        if (s.failures < this.limits.free) return null;
        const delayS = Math.min(
          this.limits.maxS,
          this.limits.baseS * 2 ** (s.failures - this.limits.free),
        );
        s.nextAt = t + delayS;
        const out = { delayS, failures: s.failures, turnedAway: s.turnedAway };
        s.turnedAway = 0;
        return out;
      },
    };
  }

  private state(account: string): State {
    const s = this.accounts.get(account) ?? {
      failures: 0,
      lastWrongAt: 0,
      pending: 0,
      nextAt: 0,
      turnedAway: 0,
      trusted: new Map<string, number>(),
    };
    this.accounts.delete(account);
    this.accounts.set(account, s); // most recently used last, so eviction takes the stalest
    if (this.accounts.size > MAX_ACCOUNTS) this.accounts.delete(this.accounts.keys().next().value!);
    return s;
  }
}
