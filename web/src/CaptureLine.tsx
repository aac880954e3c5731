import type { CaptureView } from './api';

/**
 * Which program captures, whether it still does and what it lost: tcpdump costs ~2.6x the CPU per frame of
 * weir-capture; a capture that stopped, stalled or has not been heard of lately leaves the site blind, and frames
 * dropped by the kernel or the interface were never seen by detection (each marked in red).
 */
export function CaptureLine({ capture }: { capture: CaptureView }) {
  const c = capture.counters;
  const lost = c !== null && (c.droppedByKernel > 0 || c.droppedByInterface > 0);
  const state = capture.state ?? 'running';
  const why = capture.reason ? ` (${capture.reason})` : '';
  const blind =
    state === 'stopped'
      ? `stopped${why}`
      : state === 'stalled'
        ? `stalled${why}`
        : capture.stale
          ? `stale: ${capture.at ? `no news since ${new Date(capture.at).toLocaleTimeString()}` : 'no time reported'}`
          : null;
  const counters =
    c !== null
      ? `${c.receivedByFilter.toLocaleString()} received, ${c.droppedByKernel.toLocaleString()} dropped by kernel, ${c.droppedByInterface.toLocaleString()} by interface`
      : null;
  return (
    <span data-testid="capture" className={lost ? 'capture-lost' : undefined}>
      {capture.program}
      {capture.program === 'tcpdump' ? ' (fallback, more CPU per frame)' : ''}
      {blind !== null && (
        <>
          {': '}
          <span className="capture-blind" data-testid="capture-blind">
            {blind}
          </span>
        </>
      )}
      {counters !== null && (
        <>
          {blind !== null ? '; last counted ' : ': '}
          {counters}
        </>
      )}
    </span>
  );
}
