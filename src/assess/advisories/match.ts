/**
 * Which advisories apply to an asset, from the identity the asset disclosed (vendor, model, order number,
 * firmware), with a confidence and the reason in words:
 *   exact    — the advisory names the asset's order/catalog number or model, and the firmware is in range
 *              (or every version is affected);
 *   family   — the advisory names the asset's whole product family, and the firmware is in range;
 *   possible — model or family fits but the firmware is unknown or the advisory's range was not understood.
 * A known firmware outside the range is no match. Precision before recall: a vendor alone never matches, a
 * product with order numbers that differ from the asset's is no match even when the names agree.
 */
import type { Advisory, AdvisoryProduct, AdvisoryVuln, Cvss, Remediation } from './csaf.js';
import { FAMILIES, namesWholeFamily, type FamilyRule } from './families.js';
import {
  catalogsIn,
  orderNumbersIn,
  sameOrderNumber,
  seriesAdmitted,
  vendorKey,
  vendorOfIdentifiers,
  type Catalog,
} from './identifiers.js';
import { describeRange, formatVersion, inRange, parseVersion, type Version } from './versions.js';

export type Confidence = 'exact' | 'family' | 'possible';
export const CONFIDENCE_RANK: Record<Confidence, number> = { exact: 3, family: 2, possible: 1 };

/** What matching reads of an asset. */
export interface AssetIdentity {
  vendor?: string | null;
  model?: string | null;
  product?: string | null;
  hardware?: string | null;
  firmware?: string | null;
}

export interface AdvisoryMatch {
  advisoryId: string;
  title: string;
  confidence: Confidence;
  reason: string;
  /** The advisory's product that matched, as it names it. */
  product: string;
  versionText: string | null;
  cves: string[];
  cvss: Cvss | null;
  fixAvailable: boolean;
  /** What the advisory says of exploitation (null: it does not say). */
  exploits: 'public' | 'none known' | null;
  /** Vendor fixes first, then mitigations and workarounds, as the advisory words them. */
  remediations: Remediation[];
  currentRelease: string | null;
}

interface Prepared {
  vendor: string | null;
  orders: string[];
  catalogs: Catalog[];
  designations: string[];
  texts: string[];
  version: Version | null;
  firmware: string | null;
  families: Array<{ rule: FamilyRule; why: string }>;
}

const upper = (s: string) => s.toUpperCase().replace(/\s+/g, ' ').trim();

/** Model designations of an asset: the parts of its model/product texts that name a model. */
function designationsOf(texts: string[], catalogs: Catalog[]): string[] {
  const out = new Set<string>(catalogs.map((c) => c.base));
  for (const t of texts) {
    for (let part of t.split(/\s*,\s*/)) {
      part = part.replace(/\b6[A-Z]{2}\d\s?[0-9A-Z]{3}-?[0-9A-Z]{5}-?[0-9A-Z]{4}\b/gi, ' ');
      part = part.replace(/^(?:cisco|siemens|simatic net|allen-bradley)\s+/i, '').trim();
      if (part.length < 4 || !/[0-9]/.test(part) || !/[A-Za-z]/.test(part)) continue;
      if (/^device \d+$/i.test(part)) continue; // BACnet's "device N" is an instance, not a model
      if (/^(?:SIMATIC\s+)?S7-\d+[A-Z]*$/i.test(part)) continue; // a family name, not one model
      if (catalogsIn(part).length > 0) continue; // catalog numbers are matched as catalogs
      out.add(upper(part));
    }
  }
  return [...out];
}

export function prepareIdentity(a: AssetIdentity): Prepared {
  const texts = [a.model, a.product, a.hardware].filter((t): t is string => !!t && t.trim() !== '');
  const all = texts.join(' , ');
  const orders = orderNumbersIn(all);
  const catalogs = catalogsIn(all);
  const vendor = vendorKey(a.vendor) ?? vendorOfIdentifiers(orders, catalogs);
  const firmware = a.firmware?.trim() || null;
  const families: Prepared['families'] = [];
  for (const rule of FAMILIES) {
    if (rule.vendor !== vendor) continue;
    const why = rule.asset({ orders, catalogs: catalogs.map((c) => c.base), texts });
    if (why) families.push({ rule, why });
  }
  return {
    vendor,
    orders,
    catalogs,
    designations: designationsOf(texts, catalogs),
    texts,
    version: firmware ? parseVersion(firmware) : null,
    firmware,
    families,
  };
}

/** Where `needle` stands in `hay` as whole words (no letter, digit or joined suffix either side). */
function containsWord(hay: string, needle: string): boolean {
  let i = hay.indexOf(needle);
  while (i >= 0) {
    const before = i === 0 ? ' ' : hay[i - 1]!;
    const after = hay[i + needle.length] ?? ' ';
    if (
      !/[A-Z0-9]/.test(before) &&
      !/[A-Z0-9]/.test(after) &&
      !/^-[A-Z0-9]/.test(hay.slice(i + needle.length, i + needle.length + 2))
    )
      return true;
    i = hay.indexOf(needle, i + 1);
  }
  return false;
}

interface Indexed {
  advisory: Advisory;
  product: AdvisoryProduct;
  upperName: string;
  /** The advisory's vulnerabilities that affect this product (not fixed, not marked unaffected). */
  upperShort: string;
  vulns: AdvisoryVuln[];
  rems: Remediation[];
  facts?: Facts;
}

const TOKEN_SPLIT = /[^A-Z0-9-]+/;

/** The corpus, indexed for matching many assets: by vendor, order number and model tokens. */
export class AdvisoryIndex {
  private byOrder = new Map<string, Indexed[]>();
  private wildOrders: Indexed[] = [];
  private byToken = new Map<string, Indexed[]>();
  private familyProducts = new Map<FamilyRule, Indexed[]>();
  private memo = new Map<string, AdvisoryMatch[]>();
  readonly advisories: number;
  readonly products: number;

  constructor(advisories: Iterable<Advisory>) {
    let n = 0,
      p = 0;
    for (const a of advisories) {
      n++;
      const affecting = new Map<string, AdvisoryVuln[]>();
      // Remediations by product, in one pass (big advisories list hundreds of products per remediation).
      const rems = new Map<string, Remediation[]>();
      for (const v of a.vulns) {
        const out = new Set([...v.fixed, ...v.knownNotAffected]);
        const hit = v.knownAffected.filter((pid) => !out.has(pid));
        for (const pid of hit) push(affecting, pid, v);
        for (const r of v.remediations)
          for (const pid of r.productIds.length > 0 ? r.productIds : hit) push(rems, pid, r);
      }
      for (const product of a.products) {
        const vulns = affecting.get(product.productId);
        if (!vulns) continue;
        p++;
        const e: Indexed = {
          advisory: a,
          product,
          upperName: upper(product.fullName),
          upperShort: upper(product.name),
          vulns,
          rems: rems.get(product.productId) ?? [],
        };
        for (const o of product.orderNumbers) {
          if (o.includes('*')) this.wildOrders.push(e);
          else push(this.byOrder, o, e);
        }
        const tokens = new Set(
          `${upper(product.name)} ${e.upperName}`.split(TOKEN_SPLIT).filter((t) => /[0-9]/.test(t)),
        );
        for (const c of product.catalogs) tokens.add(c.base);
        for (const t of tokens) push(this.byToken, t, e);
        if (product.orderNumbers.length === 0 && product.catalogs.length === 0)
          for (const rule of FAMILIES)
            if (rule.vendor === product.vendorKey && namesWholeFamily(product.name, rule))
              push(this.familyProducts, rule, e);
      }
    }
    this.advisories = n;
    this.products = p;
  }

  /** The advisories that apply to one asset, best confidence first, then worst CVSS. */
  match(identity: AssetIdentity): AdvisoryMatch[] {
    const key = JSON.stringify([
      identity.vendor ?? '',
      identity.model ?? '',
      identity.product ?? '',
      identity.hardware ?? '',
      identity.firmware ?? '',
    ]);
    const hit = this.memo.get(key);
    if (hit) return hit;
    const result = this.compute(prepareIdentity(identity));
    if (this.memo.size > 50_000) this.memo.clear();
    this.memo.set(key, result);
    return result;
  }

  private compute(id: Prepared): AdvisoryMatch[] {
    if (!id.vendor) return [];
    const best = new Map<string, AdvisoryMatch>();
    const offer = (m: AdvisoryMatch | null) => {
      if (!m) return;
      const cur = best.get(m.advisoryId);
      if (!cur || CONFIDENCE_RANK[m.confidence] > CONFIDENCE_RANK[cur.confidence]) {
        // Keep the CVEs of every matched product of the advisory.
        if (cur) m.cves = [...new Set([...cur.cves, ...m.cves])].sort();
        best.set(m.advisoryId, m);
      } else if (cur) cur.cves = [...new Set([...cur.cves, ...m.cves])].sort();
    };
    const seen = new Set<Indexed>();
    const candidates: Indexed[] = [];
    const add = (list: Indexed[] | undefined) => {
      for (const e of list ?? []) if (!seen.has(e)) (seen.add(e), candidates.push(e));
    };
    for (const o of id.orders) add(this.byOrder.get(o));
    if (id.orders.length > 0)
      add(
        this.wildOrders.filter((e) =>
          e.product.orderNumbers.some((w) => id.orders.some((o) => sameOrderNumber(o, w))),
        ),
      );
    for (const d of id.designations) {
      const tokens = d.split(TOKEN_SPLIT).filter((t) => /[0-9]/.test(t));
      if (tokens.length === 0) continue;
      // The rarest token narrows the candidates most; the whole designation is checked afterwards.
      let pick: Indexed[] | undefined;
      for (const t of tokens) {
        const l = this.byToken.get(t);
        if (!l) {
          pick = [];
          break;
        }
        if (!pick || l.length < pick.length) pick = l;
      }
      add(pick);
    }
    for (const e of candidates) offer(this.modelMatch(id, e));
    for (const f of id.families)
      for (const e of this.familyProducts.get(f.rule) ?? [])
        offer(this.familyMatch(id, f.why, f.rule, e));
    return [...best.values()].sort(
      (a, b) =>
        CONFIDENCE_RANK[b.confidence] - CONFIDENCE_RANK[a.confidence] ||
        (b.cvss?.score ?? 0) - (a.cvss?.score ?? 0) ||
        a.advisoryId.localeCompare(b.advisoryId),
    );
  }

  private modelMatch(id: Prepared, e: Indexed): AdvisoryMatch | null {
    const p = e.product;
    if (p.vendorKey !== id.vendor) return null;
    let why: string | null = null;
    if (p.orderNumbers.length > 0 && id.orders.length > 0) {
      const o = id.orders.find((x) => p.orderNumbers.some((w) => sameOrderNumber(x, w)));
      // Both sides state order numbers: they decide, whatever the names say.
      if (!o) return null;
      why = `order number ${o} is listed`;
    } else if (p.catalogs.length > 0 && id.catalogs.length > 0) {
      const c = id.catalogs.find((x) => p.catalogs.some((pc) => pc.base === x.base));
      if (!c) return null;
      const admitted =
        seriesAdmitted(p.fullName) ??
        new Set(p.catalogs.flatMap((pc) => (pc.base === c.base && pc.series ? [pc.series] : [])));
      if (c.series && admitted.size > 0 && !admitted.has(c.series)) return null;
      why = `catalog number ${c.base}${c.series ? ` series ${c.series}` : ''} is named`;
    } else {
      const d = id.designations.find(
        (x) => containsWord(e.upperName, x) || containsWord(e.upperShort, x),
      );
      if (!d) return null;
      why = `model ${d} is named`;
    }
    return this.judgeVersion(id, e, 'exact', `${why} in "${p.fullName}"`);
  }

  private familyMatch(
    id: Prepared,
    why: string,
    rule: FamilyRule,
    e: Indexed,
  ): AdvisoryMatch | null {
    if (e.product.vendorKey !== id.vendor) return null;
    return this.judgeVersion(
      id,
      e,
      'family',
      `${why} places it in the ${rule.family} family, which "${e.product.fullName}" names as a whole`,
    );
  }

  private judgeVersion(
    id: Prepared,
    e: Indexed,
    level: Confidence,
    why: string,
  ): AdvisoryMatch | null {
    const r = e.product.range;
    if (r.kind === 'all') return this.result(e, level, `${why}; all versions are affected`);
    if (r.kind === 'unparsed')
      return this.result(
        e,
        'possible',
        `${why}; the affected versions ("${e.product.versionText ?? 'none stated'}") could not be read, so the firmware${id.firmware ? ` ${id.firmware}` : ''} cannot be checked`,
      );
    if (!id.version)
      return this.result(
        e,
        'possible',
        `${why}; affected: ${describeRange(r)}, but the asset's firmware ${id.firmware ? `"${id.firmware}" could not be read` : 'is unknown'}`,
      );
    if (inRange(id.version, r) !== true) return null;
    return this.result(
      e,
      level,
      `${why}; firmware ${id.firmware}${formatVersion(id.version) === id.firmware ? '' : ` (${formatVersion(id.version)})`} is in the affected range ${describeRange(r)}`,
    );
  }

  private result(e: Indexed, confidence: Confidence, reason: string): AdvisoryMatch {
    // What the advisory says of the product does not depend on the asset: worked out once per product.
    const f = (e.facts ??= productFacts(e));
    return {
      advisoryId: e.advisory.id,
      title: e.advisory.title,
      confidence,
      reason,
      product: e.product.fullName,
      versionText: e.product.versionText,
      cves: f.cves,
      cvss: f.cvss,
      fixAvailable: f.fixAvailable,
      remediations: f.remediations,
      exploits: e.advisory.exploits ?? null,
      currentRelease: e.advisory.currentRelease,
    };
  }
}

type Facts = Pick<AdvisoryMatch, 'cves' | 'cvss' | 'fixAvailable' | 'remediations'>;

const REMEDIATION_ORDER = [
  'vendor_fix',
  'mitigation',
  'workaround',
  'none_available',
  'no_fix_planned',
];
const remediationRank = (c: string) => {
  const i = REMEDIATION_ORDER.indexOf(c);
  return i < 0 ? REMEDIATION_ORDER.length : i;
};

function productFacts(e: Indexed): Facts {
  const pid = e.product.productId;
  let cvss: Cvss | null = null;
  for (const v of e.vulns) {
    const c = v.cvssByProduct[pid] ?? v.cvss;
    if (c && (!cvss || c.score > cvss.score)) cvss = c;
  }
  const rems = new Map<string, Remediation>();
  for (const r of e.rems) rems.set(`${r.category}\u0000${r.details}\u0000${r.url ?? ''}`, r);
  const remediations = [...rems.values()].sort(
    (a, b) => remediationRank(a.category) - remediationRank(b.category),
  );
  return {
    cves: [...new Set(e.vulns.map((v) => v.cve).filter((c): c is string => !!c))].sort(),
    cvss,
    fixAvailable: remediations.some((r) => r.category === 'vendor_fix' && isRealFix(r)),
    remediations,
  };
}

/** A vendor_fix that is an update, not advice to keep the device in a trusted network. */
export function isRealFix(r: Remediation): boolean {
  return (
    /\b(update|upgrade|patch|firmware|install|version|release|hotfix|fix)\b/i.test(r.details) ||
    !!r.url
  );
}

function push<K, V>(m: Map<K, V[]>, k: K, v: V): void {
  const l = m.get(k);
  if (l) l.push(v);
  else m.set(k, [v]);
}
