import type { Packet } from './packet.js';
import type { Message } from './message.js';

/**
 * One consumer of dissected traffic: the inventory, the detection engine, the policy simulator, the traffic
 * series, and whatever comes next (incident correlation, SIEM export, playbooks). A caller lists its stages
 * once (`runCaptures(files, [inv, engine, traffic])`); the pipeline fans every packet and message out to them
 * in that order, so a stage that reads another's state (the engine reading the inventory's current edge)
 * comes after it.
 *
 * Hooks run on the hot path: synchronous, no allocation per call, and the packet and message objects are
 * reused by the pipeline (copy what you keep).
 */
export interface Stage {
  /** Every decoded frame, before that frame's messages. */
  onPacket?(pkt: Packet): void;
  onMessage?(msg: Message): void;
  /** Hand on what accumulated so far (a live run calls it on a timer; a file run does not). */
  flush?(): unknown;
  /**
   * End of input, once, after the last capture of the run: final sweeps. May be async (a sink draining
   * its queue); the runner waits for it.
   */
  finish?(): unknown;
}

/** Fans packets and messages out to several stages; each hook only to the stages that have it. */
export class Stages implements Stage {
  readonly list: readonly Stage[];
  private readonly packetStages: Stage[];
  private readonly messageStages: Stage[];

  constructor(stages: Stage | readonly Stage[]) {
    this.list = flatten(stages);
    this.packetStages = this.list.filter((s) => s.onPacket !== undefined);
    this.messageStages = this.list.filter((s) => s.onMessage !== undefined);
  }

  get wantsPackets(): boolean {
    return this.packetStages.length > 0;
  }

  onPacket(pkt: Packet): void {
    const s = this.packetStages;
    for (let i = 0; i < s.length; i++) s[i]!.onPacket!(pkt);
  }

  onMessage(msg: Message): void {
    const s = this.messageStages;
    for (let i = 0; i < s.length; i++) s[i]!.onMessage!(msg);
  }

  async flush(): Promise<void> {
    for (const s of this.list) await s.flush?.();
  }

  async finish(): Promise<void> {
    for (const s of this.list) await s.finish?.();
  }
}

/** A nested Stages is opened up, so the hot loop calls each stage directly. */
function flatten(stages: Stage | readonly Stage[]): Stage[] {
  const list = Array.isArray(stages) ? (stages as readonly Stage[]) : [stages as Stage];
  return list.flatMap((s) => (s instanceof Stages ? [...s.list] : [s]));
}

/**
 * These stages see only traffic with from <= ts < until (a time slice of the captures: learn up to a time,
 * detect or simulate from one). Flush and finish pass through.
 */
export function between(from: number, until: number, ...stages: Stage[]): Stage {
  const inner = new Stages(stages);
  return {
    onPacket(pkt: Packet): void {
      if (pkt.ts >= from && pkt.ts < until) inner.onPacket(pkt);
    },
    onMessage(msg: Message): void {
      if (msg.ts >= from && msg.ts < until) inner.onMessage(msg);
    },
    flush: () => inner.flush(),
    finish: () => inner.finish(),
  };
}
