import type { AddressRanges, Policy } from './model.js';
import { covered } from './evaluate.js';
// DNP3 objects with no point index: "all points" on them names nothing and passes any list.
import { POINTLESS_GROUPS } from '../dissect/protocols/dnp3.js';

/**
 * Address lists written for an older Weir, whose text this build reads another way (review 14b, F2): a policy
 * learned, proposed or simulated before the upgrade is judged by the new dissectors as soon as the gateway
 * restarts, so what it names that no longer matches is refused without any simulation having shown it. Pure:
 * the policy in, one upgrade warning per affected group or template out, each saying what to rewrite.
 */

/** Opaque (ByteString) NodeIds were written by their length; they are now their bytes in base64. */
const OLD_OPAQUE = /(^|;)b=\d+bytes$/;
/** Between a Call's object and method (opcua-body.ts CALL_SEPARATOR). */
const CALL_SEPARATOR = '|';
/** Every index of a DNP3 point group: what qualifier 0x06 ("all points") on it now names. */
const ALL_INDEXES: [number, number] = [0, 2 ** 32 - 1];
/** Functions whose requests carry "all points" on point groups: READ, the freezes, ASSIGN_CLASS. */
const ALL_POINTS_FUNCTIONS = [1, 7, 8, 9, 10, 11, 12, 22];

interface Limited {
  protocol?: string;
  functions?: number[];
  addresses?: AddressRanges;
}

export function legacyAddressWarnings(p: Pick<Policy, 'groups' | 'permitTemplates'>): string[] {
  const out: string[] = [];
  for (const g of p.groups) out.push(...check(`group ${g.name}`, g));
  for (const t of p.permitTemplates ?? []) out.push(...check(`permit template ${t.name}`, t));
  return out;
}

function check(who: string, g: Limited): string[] {
  if (g.addresses === undefined) return [];
  if (g.protocol === 'opcua') return opcua(who, g.addresses);
  if (g.protocol === 'dnp3') return dnp3(who, g);
  return [];
}

function opcua(who: string, a: AddressRanges): string[] {
  const out: string[] = [];
  const opaque = Object.keys(a).filter((k) =>
    k.split(CALL_SEPARATOR).some((n) => OLD_OPAQUE.test(n)),
  );
  if (opaque.length > 0)
    out.push(
      `${who} (opcua): opaque NodeId(s) written by length, the form of an older Weir: ${opaque.map((k) => `'${k}'`).join(', ')}; ` +
        'requests now carry them as ns=N;b=<base64 of the id> and never match, so every such request is refused: rewrite them (a new `weir policy propose` does)',
    );
  // Attribute 0 is no attribute: only a Call was addressed there, by its method alone.
  const calls = Object.keys(a).filter(
    (k) => !k.includes(CALL_SEPARATOR) && a[k]!.some(([lo]) => lo === 0),
  );
  if (calls.length > 0)
    out.push(
      `${who} (opcua): Call(s) addressed by method alone, the form of an older Weir: ${calls.map((k) => `'${k}': [0]`).join(', ')}; ` +
        "a Call is now addressed by object and method ('<object>|<method>': [0]) and these match none, so every such Call is refused (and the session closed)",
    );
  return out;
}

function dnp3(who: string, g: Limited): string[] {
  // A function list without READ, a freeze or ASSIGN_CLASS admits no "all points" request on a point group.
  if (g.functions !== undefined && !ALL_POINTS_FUNCTIONS.some((f) => g.functions!.includes(f)))
    return [];
  const a = g.addresses!;
  const narrow = Object.keys(a).filter((k) => {
    const m = /^g(\d+)v\d+$/.exec(k);
    return m !== null && !POINTLESS_GROUPS.has(Number(m[1])) && !covers(a[k]!, ALL_INDEXES);
  });
  const wide = Object.keys(a).some((k) => !narrow.includes(k) && covers(a[k]!, ALL_INDEXES));
  if (narrow.length === 0 && wide) return [];
  return [
    `${who} (dnp3): an "all points" request (qualifier 0x06: READ g1v0, FREEZE_CLEAR g20v0…) on a point group now names every index and passes only where the space lists 0-4294967295; ` +
      `an older Weir passed it under any list. ${narrow.length > 0 ? `Listed without it: ${narrow.join(', ')}` : 'No point group here lists it'}. ` +
      'Where masters send such requests, add `gNvV: [0-4294967295]` for them (a new `weir policy propose` does), or they are refused',
  ];
}

/** Whether the ranges, as a policy file writes them (any order), cover lo..hi. */
function covers(ranges: Array<[number, number]>, [lo, hi]: [number, number]): boolean {
  return covered(
    [...ranges].sort((x, y) => x[0] - y[0]),
    lo,
    hi,
  );
}
