import type { CaptureView } from './api';

/**
 * Which program captures and what it lost: tcpdump costs ~2.6x the CPU per frame of weir-capture, and frames
 * dropped by the kernel or the interface were never seen by detection (marked when there are any).
 */
export function CaptureLine({ capture }: { capture: CaptureView }) {
  const c = capture.counters;
  const lost = c !== null && c.droppedByKernel + c.droppedByInterface > 0;
  return (
    <span data-testid="capture" className={lost ? 'capture-lost' : undefined}>
      {capture.program}
      {capture.program === 'tcpdump' ? ' (fallback, more CPU per frame)' : ''}
      {c !== null
        ? `: ${c.receivedByFilter.toLocaleString()} received, ${c.droppedByKernel.toLocaleString()} dropped by kernel, ${c.droppedByInterface.toLocaleString()} by interface`
        : ''}
    </span>
  );
}
