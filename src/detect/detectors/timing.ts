import type { Detector, EdgeRuntime } from '../detector.js';
import type { EdgeProfile } from '../../discover/baseline.js';

/** Silence longer than this many polling periods (and at least MIN_SILENCE seconds) means polling stopped. */
const SILENT_PERIODS = 10;
const MIN_SILENCE = 5;
const GAP_FACTOR = 2;
/** Requests per second above this many times the learned rate (and above FLOOR) is a flood. */
const FLOOD_FACTOR = 10;
const FLOOR = 50;
const UNPROFILED_FLOOR = 200;
/** Shorter periods are bursts (a script reading in a loop), not a configured scan. */
const MIN_PERIOD = 0.05;
const MIN_REQUESTS = 20;

/** A learned edge counts as polled when it repeated requests on a steady period (SCADA scan, not a burst). */
function isPolled(p: EdgeProfile): boolean {
  return (
    p.pollInterval !== null &&
    p.pollInterval >= MIN_PERIOD &&
    (p.pollJitter ?? 0) <= p.pollInterval &&
    p.requests >= MIN_REQUESTS
  );
}

/** Quiet for many periods, and clearly longer than any pause the edge took while learning. */
function silenceOf(p: EdgeProfile): number {
  return Math.max(SILENT_PERIODS * p.pollInterval!, MIN_SILENCE, GAP_FACTOR * p.maxRequestGap);
}

/**
 * Timing against the learned polling: a polled edge going quiet (HMI lost its PLC, or a controller
 * silenced), or a burst of requests far above the learned rate (flood, brute force, a runaway script).
 */
export function timing(): Detector {
  const polled = new Set<EdgeRuntime>();
  return {
    name: 'timing',
    messages: 'requests',
    onMessage(m, ctx) {
      if (m.role !== 'request') return;
      const e = ctx.edge;
      if (e === undefined) return;
      const ts = m.ts;
      if (e.pollKind === 0) {
        e.pollKind = e.profile !== null && isPolled(e.profile.learned) ? 1 : 2;
        if (e.pollKind === 1) e.pollSilence = silenceOf(e.profile!.learned);
        e.floodLimit = Math.ceil(
          e.profile
            ? Math.max(FLOOR, FLOOD_FACTOR * e.profile.learned.requestRate)
            : UNPROFILED_FLOOR,
        );
      }
      // Join the watch list once (a flag, not a set lookup per request).
      if (!e.watched && e.pollKind === 1) {
        e.watched = true;
        polled.add(e);
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
        ctx.report({
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
        });
      }
    },
    tick(ts, ctx) {
      for (const e of polled) {
        if (ts - e.lastRequest <= e.pollSilence) continue;
        const period = e.profile!.learned.pollInterval!;
        // Reported once; the edge rejoins the watch list with its next request.
        polled.delete(e);
        e.watched = false;
        e.pollingStoppedReported = true;
        ctx.report({
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
        });
      }
    },
  };
}
