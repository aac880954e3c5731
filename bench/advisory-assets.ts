// A plant's worth of asset identities for the matching benchmark, drawn from the stored corpus itself so
// most of them hit the index like real devices would: order numbers and product names of affected products,
// each with a random firmware version; one in five is a device no advisory names.
import type { Db } from '../src/store/db.js';
import type { AssetIdentity } from '../src/assess/advisories/match.js';

export function syntheticIdentities(db: Db, n: number): AssetIdentity[] {
  const rows = db
    .prepare(
      'SELECT p.vendor_key AS vendor, p.name AS name, p.order_numbers AS orders FROM advisory_products p WHERE p.vendor_key IS NOT NULL ORDER BY p.advisory_id, p.product_id',
    )
    .all() as Array<{ vendor: string; name: string; orders: string }>;
  let seed = 12345;
  const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
  const pick = <T>(xs: T[]) => xs[Math.floor(rnd() * xs.length)]!;
  const out: AssetIdentity[] = [];
  for (let i = 0; i < n; i++) {
    const fw = `V${1 + Math.floor(rnd() * 5)}.${Math.floor(rnd() * 10)}.${Math.floor(rnd() * 20)}`;
    if (i % 5 === 4) {
      out.push({ vendor: 'Weir Lab Automation', product: `WL-M${100 + (i % 900)}`, firmware: fw });
      continue;
    }
    const r = pick(rows);
    const orders = JSON.parse(r.orders) as string[];
    const model = orders.length > 0 && rnd() < 0.5 ? orders[0]! : r.name.replace(/\s*\(.*$/, '');
    out.push({ vendor: r.vendor, model, firmware: fw });
  }
  return out;
}
