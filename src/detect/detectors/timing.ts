import type { Detector, EdgeRuntime } from '../detector.js';
import type { LearnedEdge } from '../profile.js';
import { DEFAULT_SETTINGS, type Settings } from '../../settings/model.js';
import { finding } from '../detection.js';

/**
 * The thresholds (settings `detect.timing`): silence longer than `silent_periods` polling periods, at least
 * `min_silence_s` and `gap_factor` times the longest learned pause, means polling stopped; requests per
 * second above `flood_factor` times the learned rate (and above `flood_floor_rps`) are a flood. Learned
 * periods under `min_poll_period_s` are bursts (a script reading in a loop), not a configured scan.
 */
export type TimingSettings = Settings['detect']['timing'];

/** Seconds by which the tick's skip stays clear of the exact test (timestamps are epoch doubles). */
const DUE_MARGIN_S = 0.001;

/** A learned edge counts as polled when it repeated requests on a steady period (SCADA scan, not a burst). */
function isPolled(p: LearnedEdge, t: TimingSettings): boolean {
  return (
    p.pollInterval !== null &&
    p.pollInterval >= t.min_poll_period_s &&
    (p.pollJitter ?? 0) <= p.pollInterval &&
    p.requests >= t.min_poll_requests
  );
}

/** Quiet for many periods, and clearly longer than any pause the edge took while learning. */
function silenceOf(p: LearnedEdge, t: TimingSettings): number {
  return Math.max(
    t.silent_periods * p.pollInterval!,
    t.min_silence_s,
    t.gap_factor * p.maxRequestGap,
  );
}

/**
 * Timing against the learned polling: a polled edge going quiet (HMI lost its PLC, or a controller
 * silenced), or a burst of requests far above the learned rate (flood, brute force, a runaway script).
 */
export function timing(t: TimingSettings = DEFAULT_SETTINGS.detect.timing): Detector {
  const polled = new Set<EdgeRuntime>();
  // A lower bound of the earliest time a watched edge can count as stopped (lastRequest only grows), so the
  // once-a-second tick skips the walk over thousands of polled edges while none can be due.
  let due = Infinity;
  return {
    name: 'timing',
    messages: 'requests',
    onMessage(m, ctx) {
      if (m.role !== 'request') return;
      const e = ctx.edge;
      if (e === undefined) return;
      const ts = m.ts;
      if (e.pollKind === 0) {
        e.pollKind = e.profile !== null && isPolled(e.profile.learned, t) ? 1 : 2;
        if (e.pollKind === 1) e.pollSilence = silenceOf(e.profile!.learned, t);
        e.floodLimit = Math.ceil(
          e.profile
            ? Math.max(t.flood_floor_rps, t.flood_factor * e.profile.learned.requestRate)
            : t.unprofiled_flood_rps,
        );
      }
      // Join the watch list once (a flag, not a set lookup per request).
      if (!e.watched && e.pollKind === 1) {
        e.watched = true;
        polled.add(e);
        if (ts + e.pollSilence < due) due = ts + e.pollSilence;
      }
      e.pollingStoppedReported = false;
      e.lastRequest = ts;
      if (ts - e.bucketStart >= 1) {
        e.bucketStart = ts;
        e.bucketRequests = 0;
      }
      e.bucketRequests++;
      const limit = e.floodLimit;
      if (e.bucketRequests === limit) {
        ctx.report(
          finding({
            type: 'flood',
            severity: 'high',
            ts,
            frame: m.frame,
            src: e.addr.client,
            dst: e.addr.server,
            protocol: m.protocol,
            detail: '',
            fields: {
              requests_in_1s: e.bucketRequests,
              limit,
              learned_rate: e.profile?.learned.requestRate ?? null,
            },
            explanation: `${e.addr.client} sent over ${limit} ${m.protocol} requests to ${e.addr.server} within one second${e.profile ? ` (learned rate ${e.profile.learned.requestRate.toFixed(1)}/s)` : ''}.`,
            response:
              "A request flood can starve a controller's communication processor: find the source and rate-limit or block it.",
          }),
        );
      }
    },
    tick(ts, ctx) {
      // The margin keeps the skip on the safe side of rounding: the walk decides, exactly as before.
      if (ts < due - DUE_MARGIN_S) return;
      due = Infinity;
      for (const e of polled) {
        if (ts - e.lastRequest <= e.pollSilence) {
          if (e.lastRequest + e.pollSilence < due) due = e.lastRequest + e.pollSilence;
          continue;
        }
        const period = e.profile!.learned.pollInterval!;
        // Reported once; the edge rejoins the watch list with its next request.
        polled.delete(e);
        e.watched = false;
        e.pollingStoppedReported = true;
        ctx.report(
          finding({
            type: 'polling_stopped',
            severity: 'high',
            ts,
            frame: 0,
            src: e.addr.client,
            dst: e.addr.server,
            protocol: e.profile!.learned.protocols[0] ?? '',
            detail: '',
            fields: {
              poll_interval: period,
              silent_for_s: Math.round((ts - e.lastRequest) * 1000) / 1000,
              last_request: e.lastRequest,
            },
            explanation: `${e.addr.client} stopped polling ${e.addr.server}: it polled every ${period.toFixed(3)} s and has been silent for ${(ts - e.lastRequest).toFixed(1)} s.`,
            response:
              'Check the HMI/SCADA and the controller: a stopped poll means operators may be blind to this part of the process.',
          }),
        );
      }
    },
  };
}
