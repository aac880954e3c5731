import * as crypto from 'node:crypto';
import { SEVERITY_RANK, type Detection, type Finding } from './detection.js';
import { techniquesFor } from './attack-map.js';

/** Frames kept as evidence per detection: enough to find the traffic in the capture, not a copy of it. */
const MAX_EVIDENCE_FRAMES = 10;
/** Points listed in a folded detection's evidence (enough for "learn this" on a control session). */
const MAX_LISTED_POINTS = 256;
/** Distinct points counted per detection; past this the count says "at least". */
const MAX_COUNTED_POINTS = 10_000;
/** Points named in a folded explanation. */
const POINTS_IN_TEXT = 5;

interface Open {
  d: Detection;
  points: Set<string> | null;
  explainMany: Finding['explainMany'];
  /**
   * What the id hashes: the key, the opening time and, for an escalation opened at the very time of the
   * detection it follows, the severity (null otherwise). The text is built with the id, when first read: the
   * time's decimal form alone cost more than the rest of opening a detection.
   */
  key: string;
  openedAt: number;
  escalatedTo: Finding['severity'] | null;
  /** The id once read or set. */
  id: string | undefined;
  /** The explanation as last set or built; stale while `explainDue` (points were added since). */
  explanation: string;
  explainDue: boolean;
}

/**
 * The 16-hex-digit id of a detection from its key and opening time (stable across runs and builds). The one-shot
 * hash: a Hash object per id cost more than the digest (thousands of ids are read when a run's detections sort).
 */
function detectionId(source: string): string {
  return sha256Hex(source).slice(0, 16);
}

/** crypto.hash where Node has it (20.12 and later), else a Hash object: the same digest either way. */
const sha256Hex: (s: string) => string =
  typeof crypto.hash === 'function'
    ? (s) => crypto.hash('sha256', s, 'hex')
    : (s) => crypto.createHash('sha256').update(s).digest('hex');

/** Key and opening time (and severity of a same-time escalation): what the id hashes. */
function idSourceOf(o: Open): string {
  return o.escalatedTo !== null
    ? `${o.key}|${o.openedAt}|${o.escalatedTo}`
    : `${o.key}|${o.openedAt}`;
}

/**
 * The same text as one flat string. A template literal leaves V8 a tree of concatenations (an explanation and its
 * key are ~12, over the number strings they joined), and a detection kept for the rest of the run carries the
 * whole tree into the old generation, where collections copy and mark it: on the 1,000,000-frame cost pass the
 * 5,506 kept detections held ~69,000 such nodes (2.2 MB). A regular expression runs only on a flat subject, so V8
 * copies the text into one string in place, and the pieces die young. The pattern (three control characters in a
 * row) changes nothing, match or not: the text is the same string.
 */
const NOWHERE = /\u0000\u0001\u0002/;
function flat(text: string): string {
  NOWHERE.test(text);
  return text;
}

/** Where a detection keeps its Open record: not enumerable, so JSON, spreads and comparisons never see it. */
const OPEN = Symbol('open');
type Lazy = Detection & { [OPEN]: Open };

// One getter and setter pair for every detection (not closures per detection): the objects then share one
// hidden class and stay fast objects.
const ID: PropertyDescriptor = {
  get(this: Lazy): string {
    const o = this[OPEN];
    return (o.id ??= detectionId(idSourceOf(o)));
  },
  set(this: Lazy, v: string) {
    this[OPEN].id = v;
  },
  enumerable: true,
  configurable: true,
};
const EXPLANATION: PropertyDescriptor = {
  get(this: Lazy): string {
    const o = this[OPEN];
    if (o.explainDue) {
      o.explainDue = false;
      o.explanation = flat(explainPoints(o));
    }
    return o.explanation;
  },
  set(this: Lazy, v: string) {
    const o = this[OPEN];
    o.explainDue = false;
    o.explanation = v;
  },
  enumerable: true,
  configurable: true,
};

/**
 * The detection as stored and printed. Its id (a sha256) and its folded explanation are built when first
 * read, not when it opens: a file run reads each detection once at the end, while it may open thousands and
 * fold points into them for millions of messages. Both are own enumerable accessors (the explanation only for a
 * detection that folds points; a plain value otherwise), in the order of the plain record, so JSON, spreads,
 * structured clones and deep comparisons see exactly the same object.
 */
function openDetection(f: Finding, zone: string | null, o: Open): Detection {
  const d = {} as Lazy;
  Object.defineProperty(d, OPEN, { value: o, enumerable: false });
  Object.defineProperty(d, 'id', ID);
  d.type = f.type;
  d.severity = f.severity;
  d.ts = f.ts;
  d.lastTs = f.ts;
  d.count = 1;
  d.src = f.src;
  d.dst = f.dst;
  d.protocol = f.protocol;
  d.detail = f.detail;
  d.zone = zone;
  d.evidence = { frames: [f.frame], fields: f.fields };
  // Only a detection that folds points with an explainMany rebuilds its text; the others keep it as a plain
  // value (an accessor costs a runtime call to define).
  if (o.explainMany !== undefined) Object.defineProperty(d, 'explanation', EXPLANATION);
  else d.explanation = o.explanation;
  d.suggestedResponse = f.response;
  d.techniques = [];
  return d;
}

/**
 * Folds repeated findings — same type, same source and destination, same detail — within a window into one
 * detection with a count, so an alert storm reads as one line with a number. Findings that name a point fold
 * across points too (their detail is the function): the evidence lists the points, the severity is the worst.
 */
export class Aggregator {
  private readonly open = new Map<string, Open>();
  private readonly closed: Detection[] = [];
  /**
   * The last key looked up, what it was made of and its open detection (undefined: none), kept equal to
   * `open.get(lastKey)`: an operation repeated on one pair (thousands of object writes in a download) folds
   * without joining and hashing its key again, and the finding built after a declined fold reuses it.
   */
  private lastKey = '';
  private lastType = '';
  private lastSrc = '';
  private lastDst = '';
  private lastDetail = '';
  private lastOpen: Open | undefined = undefined;

  constructor(
    private readonly windowSeconds: number,
    private readonly zoneOf: (ip: string) => string | null = () => null,
  ) {}

  /**
   * Fold a repeat into its open detection exactly as add() would, from the folding fields alone; false when
   * it would open a detection instead (then build the whole finding and add it). Repeats are most findings on
   * a busy plant: they need no explanation text, fields or id.
   */
  fold(
    type: Finding['type'],
    src: string,
    dst: string,
    detail: string,
    severity: Finding['severity'],
    ts: number,
    frame: number,
    point: Finding['point'],
    pointValue?: number,
  ): boolean {
    const o = this.lookup(type, src, dst, detail);
    if (!this.folds(o, ts, severity)) return false;
    foldInto(o!, ts, frame, point, pointValue);
    return true;
  }

  // A worse finding opens a new detection rather than folding: folding must never hide an escalation from
  // whoever watches new detections (live output, SIEM). A detection's severity is the worst it folded.
  private folds(o: Open | undefined, ts: number, severity: Finding['severity']): boolean {
    return (
      o !== undefined &&
      ts - o.d.ts <= this.windowSeconds &&
      SEVERITY_RANK[severity] <= SEVERITY_RANK[o.d.severity]
    );
  }

  /** The open detection of these four parts (lastKey is then their key). */
  private lookup(type: string, src: string, dst: string, detail: string): Open | undefined {
    if (
      type === this.lastType &&
      src === this.lastSrc &&
      dst === this.lastDst &&
      detail === this.lastDetail
    )
      return this.lastOpen;
    this.lastType = type;
    this.lastSrc = src;
    this.lastDst = dst;
    this.lastDetail = detail;
    this.lastKey = `${type}|${src}|${dst}|${detail}`;
    return (this.lastOpen = this.open.get(this.lastKey));
  }

  add(f: Finding): Detection | null {
    const o = this.lookup(f.type, f.src, f.dst, f.detail);
    const key = this.lastKey;
    if (this.folds(o, f.ts, f.severity)) {
      foldInto(o!, f.ts, f.frame, f.point, f.pointValue);
      return null;
    }
    if (o !== undefined) {
      this.closed.push(o.d);
    }
    const n: Open = {
      d: null as unknown as Detection,
      points: null,
      // Only points change the text (addPoint): without any, the explanation stays the finding's.
      explainMany: f.point !== undefined ? f.explainMany : undefined,
      // Flat once, when the detection opens (see flat): both are kept until the end of the run.
      key: flat(key),
      openedAt: f.ts,
      // An escalation may open at the very time of the detection it follows: its id must differ.
      escalatedTo: o !== undefined && o.d.ts === f.ts ? f.severity : null,
      id: undefined,
      explanation: flat(f.explanation),
      explainDue: false,
    };
    const det = openDetection(f, this.zoneOf(f.dst) ?? this.zoneOf(f.src), n);
    n.d = det;
    det.techniques = techniquesFor(det);
    if (f.point !== undefined) {
      n.points = new Set();
      det.evidence.fields = { ...f.fields, points: [], points_count: 0 };
      if (f.pointValue !== undefined) det.evidence.fields.point_values = {};
      addPoints(n, f.point, f.pointValue);
    }
    this.open.set(key, n);
    this.lastOpen = n;
    return det;
  }

  /** Every detection so far, in time order. */
  all(): Detection[] {
    const out = this.closed.slice();
    for (const o of this.open.values()) out.push(o.d);
    out.sort(byTime);
    // Detections opened at the same time in id order: each id read once (it is a getter, and hashes on its first
    // read), and only where times tie, not once per comparison.
    for (let i = 0; i < out.length; ) {
      let j = i + 1;
      while (j < out.length && out[j]!.ts === out[i]!.ts) j++;
      if (j - i > 1) {
        const run = out.slice(i, j).map((d) => ({ id: d.id, d }));
        run.sort(byId);
        for (let k = 0; k < run.length; k++) out[i + k] = run[k]!.d;
      }
      i = j;
    }
    return out;
  }
}

function byTime(a: Detection, b: Detection): number {
  return a.ts - b.ts;
}

function byId(a: { id: string }, b: { id: string }): number {
  return a.id < b.id ? -1 : 1;
}

function foldInto(
  o: Open,
  ts: number,
  frame: number,
  point: Finding['point'],
  pointValue: number | undefined,
): void {
  const d = o.d;
  d.count++;
  d.lastTs = ts;
  if (d.evidence.frames.length < MAX_EVIDENCE_FRAMES) d.evidence.frames.push(frame);
  if (o.points !== null && point !== undefined) addPoints(o, point, pointValue);
}

function addPoints(o: Open, point: Finding['point'], pointValue: number | undefined): void {
  if (typeof point === 'string') addPoint(o, point, pointValue);
  else for (const p of point!) addPoint(o, p, pointValue);
}

function addPoint(o: Open, point: string, pointValue: number | undefined): void {
  const fields = o.d.evidence.fields;
  const listed = fields.points as string[];
  const values = fields.point_values as Record<string, [number, number]> | undefined;
  if (values !== undefined && pointValue !== undefined && Object.hasOwn(values, point)) {
    const r = values[point]!;
    if (pointValue < r[0]) r[0] = pointValue;
    else if (pointValue > r[1]) r[1] = pointValue;
  }
  const points = o.points!;
  if (points.has(point) || points.size >= MAX_COUNTED_POINTS) return;
  points.add(point);
  fields.points_count = points.size;
  if (points.size >= MAX_COUNTED_POINTS) fields.points_count_capped = true;
  if (listed.length < MAX_LISTED_POINTS) {
    listed.push(point);
    if (values !== undefined && pointValue !== undefined) values[point] = [pointValue, pointValue];
  }
  // The text is rebuilt when read (see openDetection): its list and count are those of the latest point.
  if (points.size > 1 && o.explainMany !== undefined) o.explainDue = true;
}

/** The explanation of a detection folded over several points: the first few named, and how many in all. */
function explainPoints(o: Open): string {
  const fields = o.d.evidence.fields;
  const listed = fields.points as string[];
  const points = o.points!;
  const shown = listed.slice(0, POINTS_IN_TEXT).join(', ');
  return o.explainMany!(
    points.size > POINTS_IN_TEXT
      ? `${shown} and ${points.size - POINTS_IN_TEXT}${fields.points_count_capped ? '+' : ''} more`
      : shown,
    points.size,
  );
}
