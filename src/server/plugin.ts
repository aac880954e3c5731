import type { FastifyPluginAsync } from 'fastify';
import type { Db } from '../store/db.js';
import type { LiveFeed } from './live.js';
import type { LoginLimits } from './login-throttle.js';
import type { Settings } from '../settings/model.js';
import type { EnforcementBackend } from '../enforce/backend.js';
import type { HealthThresholds } from '../fleet/site-view.js';
import type { TrustedProxies } from './proxy.js';

/** What every route plugin gets: the store and where the enforcement host keeps its runtime state. */
export interface RouteDeps {
  db: Db;
  stateDir: string;
  /** Session cookies only over HTTPS (the server sets it when it serves TLS or sits behind a TLS proxy). */
  secureCookies?: boolean;
  /** The reverse proxy whose X-Forwarded-For is believed (none: the peer is the client). */
  trustedProxies?: TrustedProxies;
  /** Why the access portal is off on this server (it cannot tell a client's address); absent: it is on. */
  portalOff?: string;
  /** Live events of a followed capture, pushed over /api/live; absent when nothing is followed. */
  feed?: LiveFeed;
  /** Seconds between pings of the live WebSocket (the server passes its connection limits' value). */
  heartbeatSeconds?: number;
  /** How long a dashboard session lasts (default: settings server.session_s). */
  sessionSeconds?: number;
  /** Failed logins allowed per address and per account (default: settings server.login). */
  loginLimits?: LoginLimits;
  /** Directories that vouch for people asking for permits, and the portal's limits (default: none set up). */
  iam?: Settings['iam'];
  /** A fleet manager's folder, whose manager.db the sites routes read (absent: no fleet here). */
  fleetDir?: string;
  /** When the sites page calls a site stale or cut off (default: settings fleet.*). */
  fleetHealth?: HealthThresholds;
  /**
   * Wraps the enforcement backend of every route that blocks, unblocks or permits: on a fleet site it sends
   * blocks fleet-wide through the node (serve sets it; absent: this host's kernel only).
   */
  siteEnforcement?: (local: EnforcementBackend) => EnforcementBackend;
}

/**
 * One resource's routes: a file under routes/, listed once in routes/index.ts. Registered by the server inside
 * its own encapsulated context, after the session gate, the error handler and the shared schemas (schemas.ts),
 * so every route in it is closed unless its config says `public: true`. A route that changes state adds
 * `preHandler: requireRole(CAN.…)` (auth.ts) and calls one respond/ function that writes the change and its
 * audit entry together (respond/audited.ts); errors it throws (NotFound, ChangeRefused) become 404 and 409.
 */
export type RoutePlugin = FastifyPluginAsync<RouteDeps>;
