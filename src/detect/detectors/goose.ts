import type { Message } from '../../dissect/message.js';
import type { Detector, DetectContext } from '../detector.js';
import { finding, type Severity } from '../detection.js';
import { gooseKey } from '../../dissect/protocols/goose.js';

/** Publishers tracked at once; beyond this the oldest is forgotten (a flood of forged gocbRefs costs bounded memory). */
const MAX_PUBLISHERS = 4096;
/** A publisher silent for this many times its timeAllowedtoLive has restarted or left our view: start afresh. */
const SILENCE_TALS = 2;
const U32 = 0x1_0000_0000;

interface Publisher {
  st: number;
  sq: number;
  hash: number;
  /** The message's own timestamp t (seconds), and when we saw it (capture time). */
  t: number;
  seen: number;
  tal: number;
  testReported: boolean;
}

type Kind =
  | 'st_jump'
  | 'st_without_data'
  | 'data_without_st'
  | 'old_st'
  | 'sq_not_increasing'
  | 'test_mode';

const num = (m: Message, k: string): number => {
  const v = m.fields?.[k];
  return typeof v === 'number' ? v : NaN;
};

/**
 * IEC 61850 GOOSE sequence discipline, per publisher (MAC, APPID, gocbRef). A publisher repeats its message with
 * sqNum + 1 while nothing changes and, on a change of its data, sends stNum + 1 with sqNum back to 0 (1 in
 * Edition 1). Subscribers act on the highest stNum, so an injected frame with a far higher stNum, a new stNum
 * carrying the same data, new data under the old stNum, or an older stNum than the last one (a replay) are the
 * marks of a forged or replayed publication. A message with the test (or simulation) flag is ignored by
 * subscribers not in test mode: on a running substation that blocks the trips it carries.
 */
export function gooseSequence(): Detector {
  const pubs = new Map<string, Publisher>();
  return {
    name: 'goose_sequence',
    messages: 'placed',
    protocols: ['goose'],
    onMessage(m, ctx) {
      if (m.protocol !== 'goose' || m.anomaly !== null) return;
      const st = num(m, 'st_num'),
        sq = num(m, 'sq_num');
      if (Number.isNaN(st) || Number.isNaN(sq)) return;
      const key = gooseKey(m);
      const hash = num(m, 'data_hash'),
        t = num(m, 't'),
        tal = num(m, 'time_allowed_to_live');
      let p = pubs.get(key);
      const testing = m.fields?.test === true || m.fields?.simulation_bit === true;
      if (p === undefined) {
        if (pubs.size >= MAX_PUBLISHERS) pubs.delete(pubs.keys().next().value!);
        p = { st, sq, hash, t, seen: m.ts, tal, testReported: false };
        pubs.set(key, p);
      } else {
        const silent = (m.ts - p.seen) * 1000 > SILENCE_TALS * (Number.isNaN(p.tal) ? 0 : p.tal);
        if (!silent) judge(m, ctx, p, st, sq, hash, t);
        p.st = st;
        p.sq = sq;
        p.hash = hash;
        p.t = t;
        p.seen = m.ts;
        p.tal = tal;
      }
      if (testing && !p.testReported) {
        p.testReported = true;
        report(
          m,
          ctx,
          'test_mode',
          'medium',
          {},
          `${m.srcMac} publishes GOOSE ${ref(m)} with the ${m.fields?.test === true ? 'test' : 'simulation'} flag set: subscribers that are not in test mode discard it, so the trips and interlocks it carries do not act. Expected only during commissioning or maintenance tests. ATT&CK for ICS T0803, T0804.`,
        );
      }
    },
  };
}

function judge(
  m: Message,
  ctx: DetectContext,
  p: Publisher,
  st: number,
  sq: number,
  hash: number,
  t: number,
): void {
  const was = { previous_st_num: p.st, previous_sq_num: p.sq, st_num: st, sq_num: sq };
  if (st === p.st) {
    if (sq === (p.sq + 1) % U32 || (p.sq === U32 - 1 && sq <= 1)) {
      if (hash !== p.hash)
        report(
          m,
          ctx,
          'data_without_st',
          'high',
          was,
          `${m.srcMac} sent GOOSE ${ref(m)} with new data but the same stNum ${st}: a publisher raises stNum on every change of its data, so this frame was forged or altered. Subscribers may act on it. ATT&CK for ICS T0856, T0855.`,
        );
      return;
    }
    // A restarted publisher starts sqNum again (some keep stNum 1 across restarts) with a newer event time.
    if (sq <= 1 && t > p.t) return;
    if (sq <= p.sq)
      report(
        m,
        ctx,
        'sq_not_increasing',
        'medium',
        was,
        `${m.srcMac} sent GOOSE ${ref(m)} stNum ${st} with sqNum ${sq} after ${p.sq}: retransmissions count sqNum up, so this is a duplicate or a replayed frame. ATT&CK for ICS T0856.`,
      );
    return; // sqNum gaps are frames lost on the way (or by the capture)
  }
  if (st > p.st || (p.st > U32 - 16 && st < 16)) {
    const step = (st - p.st + U32) % U32;
    if (step > 1)
      report(
        m,
        ctx,
        'st_jump',
        'high',
        { ...was, jump: step },
        `${m.srcMac} sent GOOSE ${ref(m)} with stNum ${st} after ${p.st}: ${step - 1} state changes never seen. A jump in stNum is how forged GOOSE overrides the real publisher (subscribers follow the highest stNum). ATT&CK for ICS T0855, T0856.`,
      );
    else if (hash === p.hash)
      report(
        m,
        ctx,
        'st_without_data',
        'high',
        was,
        `${m.srcMac} sent GOOSE ${ref(m)} with a new stNum ${st} but the same data as stNum ${p.st}: a publisher raises stNum only when its data changes, so this frame was injected. ATT&CK for ICS T0855, T0856.`,
      );
    return;
  }
  // stNum went back. A publisher that restarted begins again at stNum 1 with a current timestamp.
  if (st <= 1 && sq <= 1 && !(t < p.t)) return;
  report(
    m,
    ctx,
    'old_st',
    'high',
    was,
    `${m.srcMac} sent GOOSE ${ref(m)} with stNum ${st}, older than the ${p.st} already published${t < p.t ? ' and with an older timestamp' : ''}: a replay of an earlier state. ATT&CK for ICS T0856, T0855.`,
  );
}

function ref(m: Message): string {
  return String(m.fields?.gocb_ref ?? `APPID 0x${m.unit.toString(16)}`);
}

const ATTACK: Record<Kind, string[]> = {
  st_jump: ['T0855', 'T0856'],
  st_without_data: ['T0855', 'T0856'],
  data_without_st: ['T0856', 'T0855'],
  old_st: ['T0856', 'T0855'],
  sq_not_increasing: ['T0856'],
  test_mode: ['T0803', 'T0804'],
};

function report(
  m: Message,
  ctx: DetectContext,
  kind: Kind,
  severity: Severity,
  fields: Record<string, unknown>,
  explanation: string,
): void {
  const test = kind === 'test_mode';
  ctx.report(
    finding({
      type: test ? 'goose_test_mode' : 'goose_sequence',
      severity,
      ts: m.ts,
      frame: m.frame,
      src: m.srcMac,
      dst: m.dstMac,
      protocol: 'goose',
      detail: `goose:${kind}:${ref(m)}`,
      fields: {
        anomaly: kind,
        appid: m.unit,
        gocb_ref: m.fields?.gocb_ref,
        go_id: m.fields?.go_id,
        ...fields,
        attack: ATTACK[kind],
      },
      explanation,
      response: test
        ? 'Confirm with the protection engineers that a test is under way; otherwise take the IED out of test mode and find who set it.'
        : "Find the sender of the frame (switch port of the MAC); compare with the IED's own event log. Forged GOOSE trips breakers and defeats interlocks.",
    }),
  );
}
