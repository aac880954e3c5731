import { ZONE_MODES, type Policy } from '../policy/model.js';

/**
 * The rules that govern a policy change, taken from the policy in force — never from the change alone, or a
 * proposal could name its own approvers or its own place on the ladder.
 */

/** Zones whose definition changed, or that a changed context group reaches through its conduit. */
export function touchedZones(a: Policy, b: Policy): string[] {
  const out = new Set<string>();
  const za = new Map(a.zones.map((z) => [z.name, JSON.stringify(z)]));
  for (const z of b.zones) if (za.get(z.name) !== JSON.stringify(z)) out.add(z.name);
  for (const z of a.zones) if (!b.zones.some((y) => y.name === z.name)) out.add(z.name);
  const conduits = new Map([...a.conduits, ...b.conduits].map((c) => [c.name, c]));
  const ga = new Map(a.groups.map((g) => [g.name, JSON.stringify(g)]));
  const gb = new Map(b.groups.map((g) => [g.name, JSON.stringify(g)]));
  const changed = [
    ...b.groups.filter((g) => ga.get(g.name) !== gb.get(g.name)),
    ...a.groups.filter((g) => !gb.has(g.name)),
  ];
  for (const g of changed) {
    const c = g.conduit !== undefined ? conduits.get(g.conduit) : undefined;
    if (c) {
      out.add(c.from);
      out.add(c.to);
    } else for (const z of b.zones) out.add(z.name); // a group without conduit can reach any zone
  }
  // A conduit that now joins other zones carries its groups between them.
  const ca = new Map(a.conduits.map((c) => [c.name, JSON.stringify(c)]));
  const cb = new Map(b.conduits.map((c) => [c.name, JSON.stringify(c)]));
  for (const c of [...a.conduits, ...b.conduits])
    if (ca.get(c.name) !== cb.get(c.name)) {
      out.add(c.from);
      out.add(c.to);
    }
  // A permit template opens servers of its zone to people the directory vouches for.
  const ta = new Map((a.permitTemplates ?? []).map((t) => [t.name, JSON.stringify(t)]));
  const tb = new Map((b.permitTemplates ?? []).map((t) => [t.name, JSON.stringify(t)]));
  for (const t of [...(a.permitTemplates ?? []), ...(b.permitTemplates ?? [])])
    if (ta.get(t.name) !== tb.get(t.name)) out.add(t.zone);
  // Windows, named assets and the time zone can change what any zone holds or allows.
  const rest = (p: Policy): string =>
    JSON.stringify({
      ...p,
      zones: undefined,
      conduits: undefined,
      groups: undefined,
      decoys: undefined,
      permitTemplates: undefined,
    });
  if (rest(a) !== rest(b)) for (const z of [...a.zones, ...b.zones]) out.add(z.name);
  // Decoys answer inside their zone: adding, moving or removing them is that zone's change.
  const da = new Map((a.decoys ?? []).map((d) => [d.name, JSON.stringify(d)]));
  const dbs = new Set((b.decoys ?? []).map((d) => d.name));
  for (const d of b.decoys ?? []) if (da.get(d.name) !== JSON.stringify(d)) out.add(d.zone);
  for (const d of a.decoys ?? []) if (!dbs.has(d.name)) out.add(d.zone);
  return [...out].sort();
}

/**
 * The zones a change touches (every zone of a first policy) and the roles that approve it: each touched zone's
 * approvers as the policy in force names them, and as the proposed one does. A change that narrows a zone's
 * approvers, removes the zone or lowers its simulation window is approved by the people it takes the say from.
 */
export function changeRules(
  inForce: Policy | null,
  proposed: Policy,
): { touched: string[]; roles: string[] } {
  const touched =
    inForce === null ? proposed.zones.map((z) => z.name) : touchedZones(inForce, proposed);
  const roles = new Set<string>();
  for (const p of inForce === null ? [proposed] : [inForce, proposed])
    for (const z of p.zones)
      if (touched.includes(z.name)) for (const r of z.approvals) roles.add(r);
  if (roles.size === 0) roles.add('security');
  return { touched, roles: [...roles].sort() };
}

/**
 * Zones the change moves up the ladder by more than one rung from where the policy in force has them; a zone
 * not in force (a new one, or every zone of a first policy) stands below the ladder and enters at observe.
 * Down is always allowed: it is the safe way.
 */
export function ladderJumps(inForce: Policy | null, proposed: Policy): string[] {
  const out: string[] = [];
  for (const z of proposed.zones) {
    const was = inForce?.zones.find((y) => y.name === z.name);
    const from = was === undefined ? -1 : ZONE_MODES.indexOf(was.mode);
    if (ZONE_MODES.indexOf(z.mode) <= from + 1) continue;
    out.push(
      was === undefined
        ? `zone ${z.name} is not in the policy in force, so it starts in observe (then \`weir policy promote ${z.name} monitor\`), not in ${z.mode}`
        : `zone ${z.name} is in ${was.mode} in the policy in force; the ladder goes ${ZONE_MODES.join(' → ')} one rung at a time (next: ${ZONE_MODES[from + 1]}): propose it there, then climb with \`weir policy promote\``,
    );
  }
  return out;
}

/**
 * Whether the change only moves zones down the ladder (toward observe) and changes nothing else, playbooks
 * included: it cuts no flow that the policy in force does not cut already, so it needs no new simulation (a
 * relearned baseline would otherwise hold a zone in enforce until someone records one). Removing a zone or a
 * group is not such a change: the flows it governed may fall to another zone's rules.
 */
export function onlyStepsDown(inForce: Policy | null, proposed: Policy): boolean {
  if (inForce === null) return false;
  const rest = (p: Policy): string =>
    JSON.stringify({ ...p, zones: p.zones.map((z) => ({ ...z, mode: undefined })) });
  if (rest(inForce) !== rest(proposed)) return false;
  return proposed.zones.every(
    (z, i) => ZONE_MODES.indexOf(z.mode) <= ZONE_MODES.indexOf(inForce.zones[i]!.mode),
  );
}
