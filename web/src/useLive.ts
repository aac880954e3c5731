import { useEffect, useState } from 'react';
import type { CaptureView } from './api';

export interface LiveStats {
  type: 'stats';
  source: string;
  packets: number;
  assets: number;
  edges: number;
  detections: number;
  lastTs: number | null;
  /** A live capture's program and its counters. */
  capture?: CaptureView;
}

/**
 * While the server follows a capture, its events arrive here over a WebSocket and are re-broadcast as a
 * window event, so any page can refresh what it shows.
 */
export function useLive(enabled: boolean): {
  stats: LiveStats | null;
  ended: boolean;
  /** Why the capture ended, when it failed (e.g. the interface went away). */
  endError: string | null;
  lastDetection: string | null;
} {
  const [stats, setStats] = useState<LiveStats | null>(null);
  const [ended, setEnded] = useState(false);
  const [endError, setEndError] = useState<string | null>(null);
  const [lastDetection, setLast] = useState<string | null>(null);
  useEffect(() => {
    if (!enabled) return;
    const ws = new WebSocket(
      `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api/live`,
    );
    ws.onmessage = (m) => {
      const e = JSON.parse(String(m.data)) as Omit<Partial<LiveStats>, 'type'> & {
        type: string;
        detection?: { type: string; src: string; dst: string; severity: string };
        error?: string | null;
      };
      if (e.type === 'stats') setStats(e as unknown as LiveStats);
      else if (e.type === 'ended') {
        setEnded(true);
        setEndError(e.error ?? null);
      } else if (e.type === 'detection' && e.detection)
        setLast(
          `${e.detection.severity} ${e.detection.type} ${e.detection.src} → ${e.detection.dst}`,
        );
      if (e.type !== 'idle') window.dispatchEvent(new CustomEvent('weir:live', { detail: e.type }));
    };
    return () => ws.close();
  }, [enabled]);
  return { stats, ended, endError, lastDetection };
}
