import type { DecoySet } from '../policy/decoy-model.js';
import type { TimeWindow } from '../policy/model.js';
import { dayMask, inWindow, LocalClock } from '../policy/windows.js';
import { Rng } from './random.js';

/**
 * Moving-target defence: which rotation period an instant belongs to. With `every`, periods are aligned to the
 * epoch (every node agrees without talking); with windows, a period begins when one of the windows opens (the
 * change window, when the plant expects changes). Without rotation there is one period, 0.
 */
export function rotationEpoch(set: DecoySet, ts: number, windows: readonly TimeWindow[]): number {
  const r = set.rotate;
  if (r === undefined) return 0;
  let epoch = 0;
  if (r.every !== undefined) epoch = Math.floor(ts / r.every);
  if (r.windows?.length) {
    const start = lastWindowStart(
      windows.filter((w) => r.windows!.includes(w.name)),
      ts,
    );
    // Both given: a new period at either; combine so that each change yields a new number.
    epoch = epoch * 1_000_003 + Math.floor(start / 60);
  }
  return epoch;
}

/** The most recent minute (epoch seconds) at which one of `windows` opened, within the last 8 days; 0 if none. */
export function lastWindowStart(windows: readonly TimeWindow[], ts: number): number {
  let best = 0;
  for (const w of windows) {
    const clock = new LocalClock(w.timezone);
    const mask = dayMask(w);
    const inside = (t: number): boolean => {
      const [d, m] = clock.at(t);
      return inWindow(w, mask, d, m);
    };
    const now = Math.floor(ts / 60) * 60;
    for (let t = now; t > now - 8 * 86400; t -= 60)
      if (inside(t) && !inside(t - 60)) {
        best = Math.max(best, t);
        break;
      }
  }
  return best;
}

/** One decoy of a set in one period: its address and the seed its identity follows from. */
export interface Slot {
  set: string;
  zone: string;
  slot: number;
  epoch: number;
  ip: string;
  seed: string;
  /** Port of the web page this period (the industrial services stay on their protocol's port). */
  httpPort: number;
}

const HTTP_PORTS = [80, 8080, 8000, 8081, 8888];

/**
 * The decoys of a set in a period: `active` addresses drawn from the pool, each with a fresh identity seed. The
 * draw depends on a secret of the installation, so an attacker who knows the policy cannot predict it. Addresses
 * in `avoid` (held by a device) are never drawn; a pool with too few free addresses gives fewer slots.
 */
export function slots(
  set: DecoySet,
  epoch: number,
  secret: string,
  avoid: ReadonlySet<string> = new Set(),
): Slot[] {
  const rng = new Rng(`${secret}/${set.name}/${epoch}`);
  const pool = [...set.pool];
  // Fisher–Yates with the period's generator; the first `active` addresses are this period's decoys.
  for (let i = pool.length - 1; i > 0; i--) {
    const j = rng.int(0, i);
    [pool[i], pool[j]] = [pool[j]!, pool[i]!];
  }
  // A held address gives its slot the next free address beyond the period's first `active`: the other slots
  // keep address and identity.
  const spare = pool.slice(set.active).filter((ip) => !avoid.has(ip));
  const out: Slot[] = [];
  pool.slice(0, set.active).forEach((drawn, slot) => {
    const httpPort = set.rotate ? rng.pick(HTTP_PORTS) : 80;
    const ip = avoid.has(drawn) ? spare.shift() : drawn;
    if (ip !== undefined)
      out.push({
        set: set.name,
        zone: set.zone,
        slot,
        epoch,
        ip,
        // A replacement is another unit (its own MAC and serial), not the withdrawn decoy moved.
        seed: `${secret}/${set.name}/${epoch}/${slot}${ip === drawn ? '' : `/${ip}`}`,
        httpPort,
      });
  });
  return out;
}
