// A learned edge as a baseline file holds it: a Modbus poll of function 3 learned from ten requests, with the
// caller's changes (the edge's ends, what it read or wrote, its timing).
import type { EdgeProfile } from '../../src/discover/baseline.js';

export function learnedEdge(
  ends: Pick<EdgeProfile, 'id' | 'client' | 'server' | 'transport' | 'port'>,
  over: Partial<EdgeProfile> = {},
): EdgeProfile {
  return {
    ...ends,
    protocols: ['modbus'],
    functions: ['modbus:3'],
    reads: {},
    writes: {},
    values: {},
    pollInterval: null,
    pollJitter: null,
    maxRequestGap: 0,
    requestRate: 1,
    requests: 10,
    anomalyKinds: [],
    firstSeen: 1,
    lastSeen: 2,
    ...over,
  };
}
