import type { Message } from '../../dissect/message.js';
import type { Detector, DetectContext } from '../detector.js';
import {
  gapPeriod,
  IoConnections,
  isGroupAddress,
  MAX_IO_CONNECTIONS,
  type IoConnection,
  type IoScope,
} from '../../discover/io-connections.js';
import { countCapped, type Capped } from '../../discover/merge.js';
import { ioProfileKey, type IoProfile } from '../../discover/baseline.js';
import { SERVICE_FORWARD_CLOSE } from '../../dissect/protocols/cip-forward-open.js';
import { finding } from '../detection.js';

/** Gaps judged together: one late or early datagram is jitter; the median of a window is the producer's pace. */
const WINDOW = 16;
/** Slower than the learned interval by more than this fraction (or four spreads, if wider) is drift. */
const SLOW_FRACTION = 0.25;
const SPREADS = 4;
/** A producer that must send at least every RPI and keeps a median this much above it breaks the agreement. */
const RPI_SLACK = 1.25;
/** Twice as fast as it ever ran: a second producer on the connection (injected I/O) or a rewritten RPI. */
const FAST_FRACTION = 0.5;
/**
 * Silent for this many intervals (and at least STOP_MIN_S): the consumer's connection timeout (RPI × 4 to × 512,
 * ×16 being common) has long fired, so the I/O connection is gone.
 */
const STOP_INTERVALS = 16;
const STOP_MIN_S = 0.25;

type Pace = 'ok' | 'slow' | 'fast';

interface Watch {
  producer: string;
  consumer: string;
  connectionId: number;
  direction: IoConnection['direction'] | '';
  rpiUs: number;
  learned: IoProfile | null;
  window: Float64Array;
  gaps: number;
  lastTs: number;
  lastFrame: number;
  /** Encapsulation sequence number of the last datagram: a SPAN port's duplicate repeats it. */
  lastSeq: number;
  pace: Pace;
  stopped: boolean;
  closed: boolean;
}

/**
 * Connection directions known and watched at once (default MAX_IO_CONNECTIONS each: a flood of Forward_Open
 * replies costs bounded memory; a sharded run gives each shard its share), and where a reset counts what it
 * forgot (`io_connections`, `io_watches`).
 */
export interface IoTimingBounds {
  maxConnections?: number;
  capped?: Capped;
  /**
   * Which I/O it watches (IoScope): all of it on one thread; in a sharded run the workers watch point-to-point
   * I/O and the main thread the I/O sent to groups (src/detect/shard-split.ts).
   */
  scope?: IoScope;
}

/**
 * EtherNet/IP cyclic I/O against its agreed and learned pace: each connection direction's producer sends at the
 * RPI its Forward_Open granted, so the baseline keeps the interval it really kept. A producer drifting slower
 * than the learned band or the RPI (an overloaded adapter or network: the consumer's outputs or inputs go stale),
 * one running far faster (a second producer injecting datagrams on the connection), and a connection whose
 * datagrams stop without a Forward_Close (outputs fall to their fault state) are reported.
 */
export function ioTiming(bounds: IoTimingBounds = {}): Detector {
  const max = bounds.maxConnections ?? MAX_IO_CONNECTIONS;
  const capped = bounds.capped ?? {};
  const scope = bounds.scope ?? 'all';
  const io = new IoConnections(max, capped, scope);
  // Point-to-point and group I/O apart, each with its bound: the two halves of a sharded run keep one each.
  const pairWatches = new Map<string, Watch>(),
    groupWatches = new Map<string, Watch>();
  return {
    name: 'io_timing',
    protocols: ['enip', 'cip'],
    onMessage(m, ctx) {
      if (m.protocol === 'cip') {
        io.onMessage(m);
        // A Forward_Close names two hosts: no group watch has a host as its consumer.
        if (m.role === 'request' && m.func === SERVICE_FORWARD_CLOSE) closePair(pairWatches, m);
        return;
      }
      if (m.funcName !== 'IO' || m.anomaly !== null) return;
      const id = m.fields?.connection_id;
      if (typeof id !== 'number') return;
      const group = isGroupAddress(m.dstIp);
      if (group ? scope === 'pair' : scope === 'group') return;
      const watches = group ? groupWatches : pairWatches;
      // Until a Forward_Open reply fills the table every lookup answers undefined: skipped, with its two key
      // strings a datagram (plants whose connections opened before the capture; the table's `unknown` count, the
      // only other effect, is not read here).
      const c = io.empty ? undefined : io.onMessage(m);
      // Nothing watched, no agreement and nothing learned: no watch can start (below), so no key is built.
      if (c == null && watches.size === 0 && ctx.baseline.baseline.io === undefined) return;
      // By both ends: a producer may use one id towards two consumers (each target picks the O→T ids).
      const key = `${m.srcIp}|${m.dstIp}|${id}`;
      let w = watches.get(key);
      if (w === undefined) {
        const learned = profileFor(ctx, m, c ?? undefined);
        // Watched when its agreement or its learned pace is known.
        if (c == null && learned === null) return;
        if (watches.size >= max) {
          countCapped(capped, 'io_watches', watches.size);
          watches.clear();
        }
        w = {
          producer: m.srcIp,
          consumer: m.dstIp,
          connectionId: id,
          direction: c?.direction ?? learned?.direction ?? '',
          rpiUs: c?.rpiUs ?? learned?.rpiUs ?? 0,
          learned,
          window: new Float64Array(WINDOW),
          gaps: 0,
          lastTs: m.ts,
          lastFrame: m.frame,
          lastSeq: seqOf(m),
          pace: 'ok',
          stopped: false,
          closed: false,
        };
        watches.set(key, w);
        return;
      }
      // A duplicate (mirrored twice) or a frame out of order says nothing about the producer's pace.
      const seq = seqOf(m);
      const gapUs = (m.ts - w.lastTs) * 1e6;
      if ((seq !== -1 && seq === w.lastSeq) || gapUs <= 0) return;
      w.lastSeq = seq;
      w.lastTs = m.ts;
      w.lastFrame = m.frame;
      w.stopped = false;
      w.closed = false;
      w.window[w.gaps++ % WINDOW] = gapUs;
      if (w.gaps < WINDOW) return;
      const observed = gapPeriod(w.window, WINDOW)!;
      const pace = paceOf(w, observed.medianUs);
      if (pace === w.pace) return;
      w.pace = pace;
      if (pace !== 'ok') report(ctx, w, pace, observed, m);
    },
    tick(ts, ctx) {
      stops(pairWatches, ts, ctx);
      stops(groupWatches, ts, ctx);
    },
  };
}

/** Watched directions silent past their stop time, each reported once. */
function stops(watches: Map<string, Watch>, ts: number, ctx: DetectContext): void {
  for (const w of watches.values()) {
    if (w.stopped || w.closed || expectedUs(w) <= 0) continue;
    const silentS = ts - w.lastTs;
    if (silentS <= stopAfterS(w)) continue;
    w.stopped = true;
    w.pace = 'ok';
    reportStop(ctx, w, ts, silentS);
  }
}

function seqOf(m: Message): number {
  const v = m.fields?.sequence;
  return typeof v === 'number' ? v : -1;
}

/** The interval a direction is held to: what it kept while learning, else what its Forward_Open granted. */
function expectedUs(w: Watch): number {
  return w.learned?.intervalUs ?? w.rpiUs;
}

function paceOf(w: Watch, medianUs: number): Pace {
  const expected = expectedUs(w);
  if (expected <= 0) return 'ok';
  if (medianUs < expected * FAST_FRACTION) return 'fast';
  if (w.rpiUs > 0 && medianUs > w.rpiUs * RPI_SLACK) return 'slow';
  if (w.learned !== null) {
    const band = Math.max(w.learned.intervalUs * SLOW_FRACTION, SPREADS * w.learned.spreadUs);
    if (medianUs > w.learned.intervalUs + band) return 'slow';
  }
  return 'ok';
}

function stopAfterS(w: Watch): number {
  return Math.max(STOP_MIN_S, (STOP_INTERVALS * Math.max(expectedUs(w), w.rpiUs)) / 1e6);
}

/** The learned direction of this datagram: by its granted RPI, or the pair's only learned direction. */
function profileFor(ctx: DetectContext, m: Message, c: IoConnection | undefined): IoProfile | null {
  const learned = ctx.baseline.baseline.io;
  if (learned === undefined) return null;
  if (c !== undefined) return learned[ioProfileKey(c.producer, c.consumer, c.rpiUs)] ?? null;
  // A capture that began after the Forward_Open: only an unambiguous pair is matched.
  const prefix = `${m.srcIp}>${m.dstIp}@`;
  let found: IoProfile | null = null;
  for (const [k, p] of Object.entries(learned)) {
    if (!k.startsWith(prefix)) continue;
    if (found !== null) return null;
    found = p;
  }
  return found;
}

/** A Forward_Close ends the pair's connections on purpose: their silence is not a stop. */
function closePair(watches: Map<string, Watch>, m: Message): void {
  for (const w of watches.values())
    if (
      (w.producer === m.srcIp && w.consumer === m.dstIp) ||
      (w.producer === m.dstIp && w.consumer === m.srcIp)
    )
      w.closed = true;
}

const ms = (us: number): string => `${(us / 1000).toFixed(us < 10_000 ? 2 : 1)} ms`;

function evidence(w: Watch): Record<string, unknown> {
  return {
    connection_id: w.connectionId,
    direction: w.direction || null,
    rpi_us: w.rpiUs || null,
    learned_interval_us: w.learned?.intervalUs ?? null,
    learned_spread_us: w.learned?.spreadUs ?? null,
  };
}

function detailOf(w: Watch): string {
  return `${w.direction || 'io'} 0x${w.connectionId.toString(16).padStart(8, '0')}`;
}

function report(
  ctx: DetectContext,
  w: Watch,
  pace: 'slow' | 'fast',
  observed: { medianUs: number; spreadUs: number },
  m: Message,
): void {
  const against = w.learned
    ? `learned ${ms(w.learned.intervalUs)} ± ${ms(w.learned.spreadUs)}${w.rpiUs ? `, RPI ${ms(w.rpiUs)}` : ''}`
    : `RPI ${ms(w.rpiUs)} agreed by its Forward_Open`;
  const fields = {
    ...evidence(w),
    observed_interval_us: observed.medianUs,
    observed_spread_us: observed.spreadUs,
    window: WINDOW,
  };
  if (pace === 'fast') {
    ctx.report(
      finding({
        type: 'io_rate_high',
        severity: 'high',
        ts: m.ts,
        frame: m.frame,
        src: w.producer,
        dst: w.consumer,
        protocol: 'enip',
        detail: detailOf(w),
        fields,
        explanation: `I/O from ${w.producer} to ${w.consumer} (connection 0x${w.connectionId.toString(16)}, ${w.direction || 'direction unknown'}) now arrives every ${ms(observed.medianUs)} (${against}): far faster than it ever ran.`,
        response:
          'Twice the pace on one connection id is often a second sender injecting I/O datagrams: compare the source MACs and the data, and check the originator for a changed RPI.',
      }),
    );
    return;
  }
  ctx.report(
    finding({
      type: 'io_interval_drift',
      severity: 'medium',
      ts: m.ts,
      frame: m.frame,
      src: w.producer,
      dst: w.consumer,
      protocol: 'enip',
      detail: detailOf(w),
      fields,
      explanation: `I/O from ${w.producer} to ${w.consumer} (connection 0x${w.connectionId.toString(16)}, ${w.direction || 'direction unknown'}) now arrives every ${ms(observed.medianUs)} (${against}).`,
      response:
        'A producer slower than its RPI leaves the consumer working on stale I/O and near its connection timeout: check the device and network load (a flood, a busy switch, a faulty adapter).',
    }),
  );
}

function reportStop(ctx: DetectContext, w: Watch, ts: number, silentS: number): void {
  ctx.report(
    finding({
      type: 'io_connection_stopped',
      severity: 'high',
      ts,
      frame: w.lastFrame,
      src: w.producer,
      dst: w.consumer,
      protocol: 'enip',
      detail: detailOf(w),
      fields: {
        ...evidence(w),
        silent_for_s: Math.round(silentS * 1000) / 1000,
        last_datagram: w.lastTs,
      },
      explanation: `I/O from ${w.producer} to ${w.consumer} (connection 0x${w.connectionId.toString(16)}, ${w.direction || 'direction unknown'}) stopped ${silentS.toFixed(2)} s ago without a Forward_Close; it ran every ${ms(expectedUs(w))}.`,
      response:
        w.direction === 'T->O'
          ? 'The controller no longer receives these inputs and acts on their fault values: check the adapter, its power and its link.'
          : 'The adapter no longer receives these outputs and has set them to their fault state: check the controller (stopped, reprogrammed, or its connection blocked).',
    }),
  );
}
