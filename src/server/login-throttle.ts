import { isIPv6 } from 'node:net';
import { DEFAULT_SETTINGS, type Settings } from '../settings/model.js';

export interface Window {
  max: number;
  seconds: number;
}

/**
 * Failed logins allowed per window before passwords are no longer checked: per source address (one guesser)
 * and per account (many guessers at one name). The per-account window is longer; it lets an attacker keep an
 * account locked, which is the price of not letting a botnet guess it.
 */
export interface LoginLimits {
  perAddress: Window;
  perAccount: Window;
}

/** The limits a settings file sets (server.login). */
export function loginLimitsOf(l: Settings['server']['login']): LoginLimits {
  return {
    perAddress: { max: l.per_address_max, seconds: l.per_address_s },
    perAccount: { max: l.per_account_max, seconds: l.per_account_s },
  };
}

export const LOGIN_LIMITS: LoginLimits = loginLimitsOf(DEFAULT_SETTINGS.server.login);

/** Keys kept at most per counter; beyond that the stalest are forgotten (their attempts are old). */
const MAX_KEYS = 50_000;

/** Sliding window of attempt slots per key; a slot is taken before the password check and given back on success. */
class SlidingCounter {
  private readonly slots = new Map<string, Array<{ at: number }>>();

  constructor(private readonly w: Window) {}

  /** Seconds until a slot frees up (0 when one is free now). */
  wait(key: string, now: number): number {
    const list = this.live(key, now);
    return list.length < this.w.max
      ? 0
      : Math.max(1, Math.ceil(list[0]!.at + this.w.seconds - now));
  }

  take(key: string, now: number): { at: number } {
    const slot = { at: now };
    const list = this.live(key, now);
    list.push(slot);
    this.slots.delete(key);
    this.slots.set(key, list); // most recently used last, so eviction takes the stalest
    if (this.slots.size > MAX_KEYS) this.evict(now);
    return slot;
  }

  full(key: string, now: number): boolean {
    return this.live(key, now).length >= this.w.max;
  }

  give(key: string, slot: { at: number }): void {
    const list = this.slots.get(key);
    const i = list?.indexOf(slot) ?? -1;
    if (i >= 0) list!.splice(i, 1);
  }

  private live(key: string, now: number): Array<{ at: number }> {
    const list = this.slots.get(key) ?? [];
    while (list.length && list[0]!.at <= now - this.w.seconds) list.shift();
    return list;
  }

  private evict(now: number): void {
    for (const k of [...this.slots.keys()])
      if (this.live(k, now).length === 0) this.slots.delete(k);
    for (const k of this.slots.keys()) {
      if (this.slots.size <= MAX_KEYS * 0.9) break;
      this.slots.delete(k);
    }
  }
}

/** One guesser: an IPv4 address, or an IPv6 /64 (what one host or site is given). */
export function guesserOf(ip: string): string {
  const v4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (v4) return v4[1]!;
  if (!isIPv6(ip)) return ip;
  const [head, tail = ''] = ip.toLowerCase().split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = ip.includes('::')
    ? [...left, ...new Array<string>(8 - left.length - right.length).fill('0'), ...right]
    : left;
  return `${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ''))
    .join(':')}::/64`;
}

export type Reservation =
  | { ok: true; release: () => void; filled: Array<'address' | 'account'> }
  | { ok: false; retryAfter: number };

/**
 * Counts login attempts atomically: a slot is reserved synchronously on both counters before the (slow,
 * asynchronous) password check, so concurrent guesses cannot all slip in before the first failure is counted.
 * A success gives back only its own slot; it never clears what others used.
 */
export class LoginThrottle {
  private readonly byAddress: SlidingCounter;
  private readonly byAccount: SlidingCounter;

  constructor(
    limits: LoginLimits = LOGIN_LIMITS,
    private readonly clock = () => Date.now() / 1000,
  ) {
    this.byAddress = new SlidingCounter(limits.perAddress);
    this.byAccount = new SlidingCounter(limits.perAccount);
  }

  reserve(ip: string, account: string): Reservation {
    const now = this.clock();
    const who = guesserOf(ip);
    const retryAfter = Math.max(this.byAddress.wait(who, now), this.byAccount.wait(account, now));
    if (retryAfter > 0) return { ok: false, retryAfter };
    const a = this.byAddress.take(who, now);
    const b = this.byAccount.take(account, now);
    const filled: Array<'address' | 'account'> = [];
    if (this.byAddress.full(who, now)) filled.push('address');
    if (this.byAccount.full(account, now)) filled.push('account');
    return {
      ok: true,
      filled,
      release: () => {
        this.byAddress.give(who, a);
        this.byAccount.give(account, b);
      },
    };
  }
}
