import type { Detector } from '../detector.js';
import { newAsset } from './new-asset.js';
import { newEdge } from './new-edge.js';
import { newProtocol } from './new-protocol.js';
import { functionOutsideProfile } from './function-profile.js';
import { functionSweep } from './function-sweep.js';
import { writeNewRange } from './write-range.js';
import { engineeringOps } from './engineering-ops.js';
import { scans } from './scan.js';
import { valueOutOfRange } from './process-values.js';
import { timing } from './timing.js';
import { malformedPdu } from './malformed.js';
import { arpSpoofing } from './arp-spoof.js';
import { DEFAULT_SETTINGS, type Settings } from '../../settings/model.js';
import { addressAssignment, dcpSet } from './address-assignment.js';
import { dnp3Control } from './dnp3-control.js';
import { protocolMismatch } from './protocol-mismatch.js';
import { adsAddRoute } from './ads-route.js';
import { gooseSequence } from './goose.js';
import { ioTiming } from './io-timing.js';
import type { Capped } from '../../discover/merge.js';
import type { IoScope } from '../../discover/io-connections.js';

/** Bounds of the detectors' own tables that a sharded run splits between its shards (see ShardedRun). */
export interface DetectorBounds {
  /** EtherNet/IP I/O connection directions known and watched (io_timing; default MAX_IO_CONNECTIONS). */
  maxIoConnections?: number;
  capped?: Capped;
  /** Which EtherNet/IP I/O io_timing watches (default all; a sharded run splits it, src/detect/shard-split.ts). */
  ioScope?: IoScope;
}

/**
 * A fresh set of every detector (they hold per-run state), with these thresholds; `bounds`: the bounds of the
 * detectors' own tables and where they count what a bound forgot (the engine's `capped`).
 */
export function allDetectors(
  s: Settings['detect'] = DEFAULT_SETTINGS.detect,
  bounds: DetectorBounds = {},
): Detector[] {
  return [
    newAsset(),
    newEdge(),
    newProtocol(),
    functionSweep(),
    functionOutsideProfile(),
    writeNewRange(),
    ...engineeringOps(),
    scans(s.scan),
    valueOutOfRange(),
    timing(s.timing),
    malformedPdu(),
    arpSpoofing(),
    addressAssignment(),
    dcpSet(),
    dnp3Control(),
    protocolMismatch(),
    adsAddRoute(),
    gooseSequence(),
    ioTiming({
      maxConnections: bounds.maxIoConnections,
      capped: bounds.capped,
      scope: bounds.ioScope,
    }),
  ];
}
