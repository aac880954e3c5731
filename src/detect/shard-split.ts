import type { Detection } from './detection.js';
import type { Detector } from './detector.js';
import { allDetectors } from './detectors/index.js';
import type { Capped } from '../discover/merge.js';
import type { Settings } from '../settings/model.js';

/**
 * Detectors whose state spans address pairs: a sender's first packet anywhere (new asset), one source trying
 * many hosts or ports (scan), layer-2 and address-assignment traffic (ARP, DHCP, DCP, GOOSE publishers). In a
 * sharded run they stay on the main thread, which sees every frame; every other detector keeps its state per
 * edge (per address pair), so it runs in the shard worker that owns the pair.
 */
export const CROSS_FLOW_DETECTORS: ReadonlySet<string> = new Set([
  'new_asset',
  'scan',
  'arp_spoofing',
  'address_assignment',
  'dcp_set',
  'goose_sequence',
]);

/** The protocols whose messages the cross-flow detectors read: the workers hand these to the main thread. */
export const CROSS_FLOW_PROTOCOLS: ReadonlySet<string> = new Set([
  'arp',
  'dhcp',
  'profinet_dcp',
  'goose',
]);

export function perEdge(ds: Detector[]): Detector[] {
  return ds.filter((d) => !CROSS_FLOW_DETECTORS.has(d.name));
}

/**
 * The main thread's detectors in a sharded run: the cross-flow ones, and io_timing over the I/O that targets
 * send to multicast or broadcast groups. Such datagrams travel between the target and the group, the
 * Forward_Opens that set them up between each originator and the target: three address pairs, so no shard
 * is sure to see both. The workers hand the main thread every group datagram and Forward_Open reply
 * (isGroupIoMessage), which it reads in capture order as one thread does, and watch the point-to-point I/O
 * themselves (perEdge with `ioScope: 'pair'`). Routing by the target instead would need the target of every
 * point-to-point datagram, which its addresses do not tell; this costs a copy of a few messages, no re-read.
 * `capped`: where its I/O tables count what their bounds forgot (the main thread holds them whole).
 */
export function mainThreadDetectors(s: Settings['detect'], capped: Capped): Detector[] {
  return allDetectors(s, { ioScope: 'group', capped }).filter(
    (d) => CROSS_FLOW_DETECTORS.has(d.name) || d.name === 'io_timing',
  );
}

/**
 * The detections of the main thread's engine and the workers' in one list, ordered as one engine lists them
 * (time, then id). Fold keys name the source and destination, so no detection is open in two engines.
 */
export function mergeDetections(lists: Detection[][]): Detection[] {
  return lists.flat().sort((a, b) => a.ts - b.ts || (a.id < b.id ? -1 : 1));
}

/** What a detect shard worker is started with (beside its shard and bounds). */
export interface DetectShardInit {
  baseline: unknown;
  settings: unknown;
  windowSeconds: number;
  mutes: unknown[];
  decoys: string[];
  /** Check only traffic from this time on (epoch seconds; -Infinity for all). */
  from: number;
}

/** What a detect shard worker hands back at the end. */
export interface DetectShardResult {
  detections: Detection[];
  muted: number;
}
