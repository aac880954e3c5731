/**
 * Product families an advisory may name instead of single products ("SIMATIC S7-300 CPU family (incl.
 * related ET200 CPUs and SIPLUS variants)"), and how an asset's own identity places it in one. Kept short
 * on purpose: a family is only claimed where the order number or the model designation says so without
 * doubt (an XC206-2 and an X206-1 share "6GK5206", so switches go by their model name, not the number).
 */
export interface FamilyRule {
  vendor: string;
  family: string;
  /** Whether the asset's order numbers, catalog numbers or model designations put it in this family. */
  asset: (ids: { orders: string[]; catalogs: string[]; texts: string[] }) => string | null;
  /** A product of the advisory that names the whole family (matched against its name). */
  product: RegExp;
  /** Words of the product name that are part of the family's name and not a specific model. */
  strip?: RegExp;
  /** A product name that is the family's bare name ("SCALANCE XC-200"), a whole family without saying so. */
  bare?: RegExp;
}

const byOrder =
  (prefix: RegExp, cpu: RegExp) =>
  (ids: { orders: string[]; texts: string[] }): string | null => {
    const o = ids.orders.find((x) => prefix.test(x));
    if (o) return `order number ${o}`;
    const t = ids.texts.find((x) => cpu.test(x));
    return t ? `model "${t}"` : null;
  };

export const FAMILIES: readonly FamilyRule[] = [
  {
    vendor: 'siemens',
    family: 'SIMATIC S7-300 CPU',
    asset: byOrder(/^6ES731[0-9]/, /\bCPU\s?31[0-9][A-Z]?(?:-[0-9])?\b/i),
    product: /\bS7-300\b.*\bCPUs?\b|\bCPUs?\b.*\bS7-300\b/i,
    strip: /\bS7-300\b/gi,
  },
  {
    vendor: 'siemens',
    family: 'SIMATIC S7-400 CPU',
    asset: byOrder(/^6ES741[0-9]/, /\bCPU\s?41[0-9][A-Z]?(?:-[0-9])?\b/i),
    product: /\bS7-400\b.*\bCPUs?\b|\bCPUs?\b.*\bS7-400\b/i,
    strip: /\bS7-400\b/gi,
  },
  {
    vendor: 'siemens',
    family: 'SIMATIC S7-1200 CPU',
    asset: byOrder(/^6ES721[0-9]/, /\bCPU\s?12[0-9]{2}[A-Z]*\b/i),
    product: /\bS7-1200\b.*\bCPUs?\b|\bCPUs?\b.*\bS7-1200\b/i,
    strip: /\bS7-1200\b/gi,
  },
  {
    vendor: 'siemens',
    family: 'SIMATIC S7-1500 CPU',
    asset: byOrder(/^6ES751[0-9]/, /\bCPU\s?15[0-9]{2}[A-Z]*\b/i),
    product: /\bS7-1500\b.*\bCPUs?\b|\bCPUs?\b.*\bS7-1500\b/i,
    strip: /\bS7-1500\b/gi,
  },
  {
    vendor: 'siemens',
    family: 'SCALANCE XC-200',
    asset: ({ texts }) => {
      const t = texts.find((x) => /\bSCALANCE XC2[0-9]{2}\b/i.test(x));
      return t ? `model "${t}"` : null;
    },
    product: /\bSCALANCE XC-?200\b/i,
    strip: /\bXC-?200\b/gi,
    bare: /^(?:SIMATIC NET )?SCALANCE XC-?200$/i,
  },
  {
    vendor: 'rockwell',
    family: '1756 ControlLogix communication module',
    asset: ({ catalogs }) => {
      const c = catalogs.find((x) => /^1756-EN/.test(x));
      return c ? `catalog number ${c}` : null;
    },
    product: /\bControlLogix\b.*\bcommunications? (?:modules?|adapters?)\b/i,
    strip: /\b1756\b/g,
  },
];

/**
 * Whether a product name names a whole family rather than one model: once the family's own words and any
 * parenthesised note are removed, no model-like token (one with a digit) is left.
 */
export function namesWholeFamily(name: string, rule: FamilyRule): boolean {
  if (!rule.product.test(name)) return false;
  if (rule.bare?.test(name.replace(/\([^)]*\)/g, ' ').trim())) return true;
  if (!/\b(?:family|families|series|all|CPUs|modules|products|devices|switches)\b/i.test(name))
    return false;
  let rest = name.replace(/\([^)]*\)/g, ' ');
  if (rule.strip) rest = rest.replace(rule.strip, ' ');
  return !/[0-9]/.test(rest);
}
