/**
 * CSAF 2.0 security advisories (OASIS CSAF, as CISA publishes its ICS advisories) read into what matching
 * needs: each product of the product_tree with its vendor, family, name, version range, order numbers and
 * CPEs, and each vulnerability with its CVE, CVSS v3, product status and remediations. Pure: JSON in,
 * values out; a document that is not CSAF is an error naming what is missing.
 */
import { catalogsIn, orderNumbersIn, vendorKey, type Catalog } from './identifiers.js';
import { parseRange, type Range } from './versions.js';

export interface AdvisoryProduct {
  productId: string;
  vendor: string;
  vendorKey: string | null;
  /** product_family branch, when the tree has one. */
  family: string | null;
  /** product_name branch (the product without its version). */
  name: string;
  /** The product's full name as the advisory writes it. */
  fullName: string;
  /** Version text of the product_version(_range) branch; null when the tree names none. */
  versionText: string | null;
  range: Range;
  orderNumbers: string[];
  catalogs: Catalog[];
  cpes: string[];
}

export interface Remediation {
  category: string;
  details: string;
  url: string | null;
  productIds: string[];
}

export interface Cvss {
  score: number;
  severity: string;
  vector: string;
}

export interface AdvisoryVuln {
  cve: string | null;
  title: string | null;
  cwe: string | null;
  cvss: Cvss | null;
  /** CVSS per product id (scores[] may differ between products). */
  cvssByProduct: Record<string, Cvss>;
  knownAffected: string[];
  fixed: string[];
  knownNotAffected: string[];
  remediations: Remediation[];
}

export interface Advisory {
  id: string;
  title: string;
  publisher: string;
  initialRelease: string | null;
  currentRelease: string | null;
  /** tracking.version: a later revision of the same advisory replaces the earlier one. */
  revision: string;
  url: string | null;
  products: AdvisoryProduct[];
  vulns: AdvisoryVuln[];
  /**
   * What the advisory says of exploitation: 'public' (public exploits exist or target it), 'none known'
   * (CISA's "No known public exploits specifically target …"), null when it says neither.
   */
  exploits?: 'public' | 'none known' | null;
}

export class NotCsaf extends Error {}

type Json = Record<string, unknown>;
const obj = (v: unknown): Json =>
  v && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : {};
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const clean = (s: string) =>
  s
    .replace(/\u00a0/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();

/** Read one CSAF document (already JSON-parsed). */
export function readCsaf(doc: unknown, source = 'document'): Advisory {
  const d = obj(doc);
  const meta = obj(d.document);
  const tracking = obj(meta.tracking);
  const id = str(tracking.id);
  if (!str(meta.csaf_version))
    throw new NotCsaf(`${source}: not a CSAF document (document.csaf_version missing)`);
  if (!id) throw new NotCsaf(`${source}: CSAF document without document.tracking.id`);
  const products: AdvisoryProduct[] = [];
  walkBranches(arr(obj(d.product_tree).branches), {}, products);
  const self = arr(meta.references)
    .map(obj)
    .find((r) => r.category === 'self');
  return {
    id: clean(id),
    title: clean(str(meta.title) ?? id),
    publisher: clean(str(obj(meta.publisher).name) ?? ''),
    initialRelease: str(tracking.initial_release_date),
    currentRelease: str(tracking.current_release_date),
    revision: str(tracking.version) ?? '1',
    url: str(self?.url) ?? null,
    products,
    vulns: arr(d.vulnerabilities).map(obj).map(readVuln),
    exploits: exploitsOf(
      arr(meta.notes)
        .map((n) => str(obj(n).text) ?? '')
        .join('\n'),
    ),
  };
}

/** CISA's risk evaluation wording about exploits; a "no known" sentence is checked first. */
export function exploitsOf(text: string): Advisory['exploits'] {
  if (/no known public exploits/i.test(text)) return 'none known';
  if (
    /public exploits (?:are available|specifically target|have been)|exploits that target (?:this|these) vulnerabilit(?:y|ies) are publicly available|known to be (?:actively )?exploited/i.test(
      text,
    )
  )
    return 'public';
  return null;
}

interface Path {
  vendor?: string;
  family?: string;
  name?: string;
  version?: string;
  exact?: boolean;
}

function walkBranches(branches: unknown[], path: Path, out: AdvisoryProduct[]): void {
  for (const raw of branches) {
    const b = obj(raw);
    const name = clean(str(b.name) ?? '');
    const here: Path = { ...path };
    switch (b.category) {
      case 'vendor':
        here.vendor = name;
        break;
      case 'product_family':
        here.family = name;
        break;
      case 'product_name':
        here.name = name;
        break;
      case 'product_version':
        here.version = name;
        here.exact = true;
        break;
      case 'product_version_range':
        here.version = name;
        here.exact = false;
        break;
    }
    const p = obj(b.product);
    const pid = str(p.product_id);
    if (pid)
      out.push(
        product(pid, clean(str(p.name) ?? name), here, obj(p.product_identification_helper)),
      );
    walkBranches(arr(b.branches), here, out);
  }
}

function product(productId: string, fullName: string, path: Path, helper: Json): AdvisoryProduct {
  const name = path.name ?? path.family ?? fullName;
  const vendor = path.vendor ?? '';
  const models = arr(helper.model_numbers)
    .map(str)
    .filter((s): s is string => !!s);
  const skus = arr(helper.skus)
    .map(str)
    .filter((s): s is string => !!s);
  const cpe = str(helper.cpe);
  const idText = [fullName, name, ...models, ...skus].join(' ');
  const key = vendorKey(vendor) ?? vendorKey(name);
  return {
    productId,
    vendor,
    vendorKey: key,
    family: path.family ?? null,
    name,
    fullName,
    versionText: path.version ?? null,
    range: path.version ? parseRange(path.version, path.exact) : { kind: 'unparsed', text: '' },
    orderNumbers: orderNumbersIn(idText),
    // Allen-Bradley catalog numbers only in Rockwell's products: elsewhere "2012-R2" is a year, not a module.
    catalogs: key === 'rockwell' ? catalogsIn(`${name} ${fullName}`) : [],
    cpes: cpe ? [cpe] : [],
  };
}

function readCvss(v: Json): Cvss | null {
  const score = typeof v.baseScore === 'number' ? v.baseScore : null;
  if (score === null) return null;
  return {
    score,
    severity: str(v.baseSeverity) ?? '',
    vector: str(v.vectorString) ?? '',
  };
}

function readVuln(v: Json): AdvisoryVuln {
  const status = obj(v.product_status);
  const ids = (k: string) =>
    arr(status[k])
      .map(str)
      .filter((s): s is string => !!s);
  const byProduct: Record<string, Cvss> = {};
  let worst: Cvss | null = null;
  for (const s of arr(v.scores).map(obj)) {
    const c = readCvss(obj(s.cvss_v3));
    if (!c) continue;
    for (const p of arr(s.products).map(str)) if (p) byProduct[p] = c;
    if (!worst || c.score > worst.score) worst = c;
  }
  const note = arr(v.notes)
    .map(obj)
    .find((n) => n.category === 'summary' || n.category === 'description');
  return {
    cve: str(v.cve),
    title: str(v.title) ?? (note ? clean(str(note.text) ?? '').slice(0, 300) : null),
    cwe: str(obj(v.cwe).id),
    cvss: worst,
    cvssByProduct: byProduct,
    knownAffected: [...ids('known_affected'), ...ids('first_affected'), ...ids('last_affected')],
    fixed: [...ids('fixed'), ...ids('first_fixed')],
    knownNotAffected: ids('known_not_affected'),
    remediations: arr(v.remediations)
      .map(obj)
      .map((r) => ({
        category: str(r.category) ?? 'unknown',
        details: clean(str(r.details) ?? ''),
        url: str(r.url),
        productIds: arr(r.product_ids)
          .map(str)
          .filter((s): s is string => !!s),
      })),
  };
}
