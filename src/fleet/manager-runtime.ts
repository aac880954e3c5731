/** `weir manager run`: the hub nats-server of the manager's folder, and the manager on it. */
import path from 'node:path';
import { connect, nkeyAuthenticator, type NatsConnection } from 'nats';
import { keepArrivalOrder, openFleetDb, type FleetDb } from './fleet-db.js';
import { hubTls, openHome, type ManagerHome } from './home.js';
import { FleetManager, type ManagerOptions } from './manager.js';
import { hubConfig, type HostPort } from './nats-config.js';
import { NatsServer, within } from './nats-server.js';

export interface ManagerRunOptions {
  dir: string;
  client: HostPort;
  leaf: HostPort;
  /** The leafnode address sites dial (default: the listen address). */
  leafAdvertise?: string;
  monitorPort?: number;
  netns?: string;
  /** Use a hub someone else runs (the 3-server cluster) instead of starting one. */
  external?: string[];
  hosts?: string[];
  /** JetStream replicas of the stream and bucket (3 on a 3-server cluster). */
  replicas?: number;
  /** Bench only: site users may connect on the client port (see HubConfig.siteClients). */
  siteClients?: boolean;
  log?: (m: string) => void;
  onRecord?: ManagerOptions['onRecord'];
  ingest?: ManagerOptions['ingest'];
}

export class ManagerRuntime {
  private constructor(
    readonly home: ManagerHome,
    readonly server: NatsServer | null,
    readonly nc: NatsConnection,
    readonly db: FleetDb,
    readonly manager: FleetManager,
  ) {}

  static async start(o: ManagerRunOptions): Promise<ManagerRuntime> {
    const home = openHome(o.dir, o.hosts);
    let server: NatsServer | null = null;
    if (o.external === undefined)
      server = await NatsServer.start(
        path.join(o.dir, 'hub.conf'),
        hubConfig({
          client: o.client,
          leaf: o.leaf,
          leafAdvertise: o.leafAdvertise,
          monitorPort: o.monitorPort,
          storeDir: path.join(o.dir, 'jetstream'),
          pidFile: path.join(o.dir, 'hub.pid'),
          tls: hubTls(home),
          managerNkey: home.nkeyPublic,
          sites: home.sites,
          generations: home.generations,
          siteClients: o.siteClients,
        }),
        { netns: o.netns, logFile: path.join(o.dir, 'hub.log') },
      );
    const nc = await connect({
      servers: o.external ?? [`${o.client.host}:${o.client.port}`],
      authenticator: nkeyAuthenticator(new TextEncoder().encode(home.nkeySeed)),
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      name: 'weir-manager',
    });
    const db = openFleetDb(path.join(o.dir, 'manager.db'));
    if (keepArrivalOrder(db))
      o.log?.('manager.db: the ledger now keeps its arrival order (rebuilt once)');
    const manager = new FleetManager(db, nc, {
      publisher: 'weir-manager',
      signingKeyPem: home.signingKeyPem,
      log: o.log,
      onRecord: o.onRecord,
      replicas: o.replicas,
      ingest: o.ingest,
    });
    await manager.setup();
    await manager.startIngest();
    return new ManagerRuntime(home, server, nc, db, manager);
  }

  async stop(signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<void> {
    if (signal === 'SIGTERM') {
      await within(2000, this.manager.stop());
      await within(2000, this.nc.close());
    }
    await this.server?.stop(signal);
    if (signal === 'SIGTERM') this.db.close();
  }
}
