/** Link-layer header types (LINKTYPE_* from the tcpdump.org registry) that Weir understands. */
export const LinkType = {
  NULL: 0,
  ETHERNET: 1,
  RAW: 101,
  LOOP: 108,
  LINUX_SLL: 113,
  IPV4: 228,
  IPV6: 229,
  LINUX_SLL2: 276,
} as const;

/**
 * One captured frame. Readers reuse a single Frame object and a shared buffer for speed:
 * a consumer that keeps anything beyond the callback must copy it.
 */
export interface Frame {
  /** 1-based frame number in the capture, as tshark counts them. */
  index: number;
  /** Capture time, seconds since the Unix epoch (float, sub-microsecond precision lost above 2^53). */
  ts: number;
  /** Link type of the interface this frame came from. */
  linkType: number;
  /** Interface index (pcapng IDB order; 0 for pcap and live). */
  iface: number;
  /** Buffer that holds the frame bytes; the frame is data[offset, offset + capLen). */
  data: Uint8Array;
  offset: number;
  capLen: number;
  /** Length on the wire (may exceed capLen when the snap length cut the frame). */
  origLen: number;
}

/** Why and where a reader stopped early (truncated or corrupt input). Good frames before it were delivered. */
export interface CaptureError {
  /** Byte offset in the input where the bad record starts. */
  byteOffset: number;
  /** Frames delivered before the error. */
  framesBefore: number;
  reason: string;
}

export interface CaptureSummary {
  format: 'pcap' | 'pcapng';
  frames: number;
  bytes: number;
  /** Link types seen, by interface. */
  linkTypes: number[];
  error: CaptureError | null;
  /** Non-fatal oddities counted while reading (e.g. unknown pcapng blocks skipped), at most MAX_KINDS kinds. */
  anomalies: Record<string, number>;
  /** The first few distinct unknown pcapng block types skipped (hex), as evidence for the anomaly count. */
  unknownBlockTypes: string[];
  /** What a bound cut short, counted (e.g. anomaly kinds beyond the cap): never silent. */
  capped: Record<string, number>;
}

export type FrameSink = (frame: Frame) => void;

export function newFrame(): Frame {
  return {
    index: 0,
    ts: 0,
    linkType: 1,
    iface: 0,
    data: new Uint8Array(0),
    offset: 0,
    capLen: 0,
    origLen: 0,
  };
}
