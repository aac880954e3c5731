// The manager's hub for the fleet bench: one nats-server (as `weir manager run` starts it), or three local
// nats-servers joined by cluster routes with JetStream replicas 3 and the manager on them (ManagerRuntime's
// `external`). Sites are registered before the servers start: the hub's users are written from the site list.
import path from 'node:path';
import { connect, nkeyAuthenticator } from 'nats';
import { addSite, hubTls, openHome } from '../src/fleet/home.js';
import { ManagerRuntime, type ManagerRunOptions } from '../src/fleet/manager-runtime.js';
import { hubConfig } from '../src/fleet/nats-config.js';
import { NatsServer } from '../src/fleet/nats-server.js';
import { freePort, sleep } from '../test/fleet/fleet-kit.js';

export type Topology = 'one server' | '3-server cluster, R3';

export interface Hub {
  mgr: ManagerRuntime;
  /** Where sites' leaf nodes dial. */
  leafUrls: string[];
  /** Client ports (the simulated sites connect here). */
  clientUrls: string[];
  stop(): Promise<void>;
}

export async function startHub(
  topology: Topology,
  dir: string,
  sites: string[],
  onRecord: ManagerRunOptions['onRecord'],
): Promise<Hub> {
  const home = openHome(dir);
  for (const s of sites) addSite(home, s);
  const host = '127.0.0.1';
  if (topology === 'one server') {
    const client = { host, port: await freePort() };
    const leaf = { host, port: await freePort() };
    // The simulated sites connect as site users on the client port, which a deployment admits only on leaf links.
    const mgr = await ManagerRuntime.start({
      dir,
      client,
      leaf,
      siteClients: true,
      log: () => undefined,
      onRecord,
    });
    return {
      mgr,
      leafUrls: [`nats-leaf://${host}:${leaf.port}`],
      clientUrls: [`${host}:${client.port}`],
      stop: () => mgr.stop(),
    };
  }
  const ports = await Promise.all(
    [0, 1, 2].map(async () => ({
      client: await freePort(),
      leaf: await freePort(),
      route: await freePort(),
    })),
  );
  const servers = await Promise.all(
    ports.map((p, i) =>
      NatsServer.start(
        path.join(dir, `hub${i}.conf`),
        hubConfig({
          client: { host, port: p.client },
          leaf: { host, port: p.leaf },
          storeDir: path.join(dir, `jetstream${i}`),
          tls: hubTls(home),
          managerNkey: home.nkeyPublic,
          sites: home.sites,
          generations: home.generations,
          siteClients: true,
          cluster: {
            name: 'weir-hub',
            serverName: `weir-hub-${i}`,
            listen: { host, port: p.route },
            routes: ports.filter((_, j) => j !== i).map((o) => `nats-route://${host}:${o.route}`),
          },
        }),
        { logFile: path.join(dir, `hub${i}.log`) },
      ),
    ),
  );
  const clientUrls = ports.map((p) => `${host}:${p.client}`);
  // JetStream answers once the three have elected a meta leader: wait for that on a probe connection (a
  // manager started earlier would fail its setup and leave its connection reconnecting).
  const probe = await connect({
    servers: clientUrls,
    authenticator: nkeyAuthenticator(new TextEncoder().encode(home.nkeySeed)),
  });
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        await (await probe.jetstreamManager()).getAccountInfo();
        break;
      } catch (e) {
        if (attempt > 60) throw e;
        await sleep(500);
      }
    }
  } finally {
    await probe.close();
  }
  const mgr = await ManagerRuntime.start({
    dir,
    client: { host, port: 0 },
    leaf: { host, port: 0 },
    external: clientUrls,
    replicas: 3,
    log: () => undefined,
    onRecord,
  });
  return {
    mgr,
    leafUrls: ports.map((p) => `nats-leaf://${host}:${p.leaf}`),
    clientUrls,
    stop: async () => {
      await mgr.stop();
      for (const s of servers) await s.stop();
    },
  };
}
