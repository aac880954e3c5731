// A site's store carried into manager.db without NATS: published by the site publisher into its outbox, and
// the outbox's records taken by the aggregate as the manager's ingest takes them (the transport is tested in
// aggregate.test.ts).
import path from 'node:path';
import { openFleetDb } from '../../src/fleet/fleet-db.js';
import { AggregateStore } from '../../src/fleet/aggregate-store.js';
import { Outbox } from '../../src/fleet/outbox.js';
import { SitePublisher } from '../../src/fleet/site-publisher.js';
import { openStore } from '../../src/store/db.js';
import { tempDir } from './fleet-kit.js';
import type { SiteKind } from '../../src/fleet/subjects.js';

/** Publish a site's store into its outbox, and take the outbox's records straight into manager.db. */
export function carry(
  site: string,
  seed: (db: ReturnType<typeof openStore>) => void,
  mgrFile: string,
) {
  const store = openStore(path.join(tempDir(`route-${site}`), 'weir.db'));
  seed(store);
  const fdb = openFleetDb(':memory:');
  const outbox = new Outbox(fdb, site, { log: () => undefined });
  const pub = new SitePublisher(store, fdb, outbox, { log: () => undefined });
  pub.tick(true);
  const mgr = openFleetDb(mgrFile);
  const agg = new AggregateStore(mgr);
  const rows = fdb.prepare('SELECT kind, body FROM outbox ORDER BY seq').all() as Array<{
    kind: SiteKind;
    body: string;
  }>;
  mgr.transaction(() => {
    for (const r of rows) agg.take(site, r.kind, JSON.parse(r.body), Date.now());
    mgr
      .prepare(
        'INSERT OR IGNORE INTO fleet_sites (site, last_seen, last_at, records) VALUES (?, 0, 0, 0)',
      )
      .run(site);
  })();
  mgr.close();
  return { store, fdb, outbox, pub };
}
