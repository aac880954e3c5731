/**
 * Product identifiers as plants and advisories write them: Siemens order numbers (MLFB, "6ES7 315-2EH14-0AB0",
 * with 'x' or '*' standing for any character in advisories), Rockwell catalog numbers ("1756-ENBT/A",
 * "1756-EN2T Series D"), and vendor names reduced to one key ("Rockwell Automation/Allen-Bradley" → rockwell).
 */

// 6ES7 315-2EH14-0AB0, 6GK5206-2BB00-2AC2, 6AG1 206-2BB00-7AC2, 6AV2 124-0GC01-0AX0; spaces optional.
const MLFB =
  /\b(6[A-Z]{2}\d)\s?([0-9A-Z*x?]{3})-?\s?([0-9A-Z*x?]{5})-?\s?([0-9A-Z*x?]{4})(?![0-9A-Za-z])/g;

/**
 * Siemens order numbers in a text, normalised to "6ES7315-2EH14-0AB0". An upper-case X is a real character
 * ("6ES7414-2XL07-0AB0"); a lower-case x, '*' or '?' is the advisories' wildcard and becomes '*'.
 */
export function orderNumbersIn(text: string): string[] {
  const out = new Set<string>();
  for (const m of text.matchAll(MLFB)) {
    const norm = `${m[1]}${m[2]}-${m[3]}-${m[4]}`.replace(/[x?]/g, '*').toUpperCase();
    out.add(norm);
  }
  return [...out];
}

/** Whether two order numbers name the same article ('*' in either matches any one character). */
export function sameOrderNumber(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x !== y && x !== '*' && y !== '*') return false;
  }
  return true;
}

export interface Catalog {
  /** "1756-ENBT" */
  base: string;
  /** Hardware series letter when stated ("A" of "1756-ENBT/A" or "Series A"). */
  series: string | null;
}

// Allen-Bradley catalog numbers: four digits, a dash, a module code ("1756-ENBT", "1769-L33ER", "2080-LC50").
const CATALOG =
  /\b(1[0-9]{3}|2[0-9]{3}|5[0-9]{3})-([A-Z][A-Z0-9]{1,9}(?:-[A-Z0-9]{1,4})?)(?:\/([A-Z]))?\b/g;

/** Rockwell catalog numbers in a text. */
export function catalogsIn(text: string): Catalog[] {
  const out: Catalog[] = [];
  for (const m of text.toUpperCase().matchAll(CATALOG)) {
    const after = text.slice((m.index ?? 0) + m[0].length, (m.index ?? 0) + m[0].length + 12);
    const series = m[3] ?? /^,?\s*SERIES\s+([A-Z])\b/i.exec(after)?.[1]?.toUpperCase() ?? null;
    out.push({ base: `${m[1]}-${m[2]}`, series });
  }
  return out;
}

/** Series letters a product name admits ("Series A/B/C" → A, B, C); null when it names none. */
export function seriesAdmitted(name: string): Set<string> | null {
  const m = /\bSeries\s+([A-Z](?:\s*(?:\/|,|and|or)\s*[A-Z])*)\b/i.exec(name);
  if (!m) return null;
  return new Set(m[1]!.toUpperCase().split(/\s*(?:\/|,|AND|OR)\s*/));
}

const VENDOR_ALIASES: Record<string, string> = {
  allenbradley: 'rockwell',
  rockwellautomation: 'rockwell',
  schneiderelectric: 'schneider',
  schneider: 'schneider',
  modicon: 'schneider',
  telemecanique: 'schneider',
  ge: 'ge',
  generalelectric: 'ge',
  gedigital: 'ge',
  gevernova: 'ge',
  mitsubishielectric: 'mitsubishi',
  abb: 'abb',
  hitachienergy: 'hitachienergy',
  phoenixcontact: 'phoenixcontact',
  emerson: 'emerson',
  honeywell: 'honeywell',
  yokogawa: 'yokogawa',
  omron: 'omron',
  beckhoff: 'beckhoff',
  wago: 'wago',
  moxa: 'moxa',
  cisco: 'cisco',
  hirschmann: 'belden',
  belden: 'belden',
};

/**
 * One key per vendor: "Siemens AG", "Siemens Schweiz", "SIEMENS" → siemens; "Rockwell Automation/Allen-Bradley"
 * → rockwell. The first word decides unless a known two-word name does.
 */
export function vendorKey(name: string | null | undefined): string | null {
  if (!name) return null;
  const words = name
    .toLowerCase()
    .replace(/[^a-z0-9/ &-]/g, ' ')
    .split(/[\s/&]+/)
    .map((w) => w.replace(/-/g, ''))
    .filter(Boolean);
  if (words.length === 0) return null;
  const two = words.slice(0, 2).join('');
  if (VENDOR_ALIASES[two]) return VENDOR_ALIASES[two]!;
  if (VENDOR_ALIASES[words[0]!]) return VENDOR_ALIASES[words[0]!]!;
  return words[0]!;
}

/** A vendor a bare identifier belongs to (an MLFB is Siemens', an Allen-Bradley catalog Rockwell's). */
export function vendorOfIdentifiers(orders: string[], catalogs: Catalog[]): string | null {
  if (orders.length > 0) return 'siemens';
  if (catalogs.some((c) => /^17[0-9]{2}-|^20[0-9]{2}-|^5069-/.test(c.base))) return 'rockwell';
  return null;
}
