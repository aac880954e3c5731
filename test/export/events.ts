import type { Detection } from '../../src/detect/detection.js';

/** A folded detection as the engine makes it; n distinguishes them, fields may be overridden. */
export function detection(n: number, over: Partial<Detection> = {}): Detection {
  return {
    id: `d${String(n).padStart(5, '0')}`,
    type: 'function_outside_profile',
    severity: 'high',
    ts: 1_700_000_000 + n,
    lastTs: 1_700_000_000 + n,
    count: 1,
    src: '10.77.0.66',
    dst: '10.77.0.21',
    protocol: 'modbus',
    detail: 'modbus:5',
    zone: 'control',
    evidence: { frames: [n], fields: { edge: '10.77.0.66>10.77.0.21:502', function: 5 } },
    explanation: `Write single coil | from 10.77.0.66 = never seen \\ on this edge "${n}"\nsecond line`,
    suggestedResponse: 'block',
    techniques: [],
    ...over,
  };
}
