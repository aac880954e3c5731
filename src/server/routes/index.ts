import type { RoutePlugin } from '../plugin.js';
import { assetRoutes } from './assets.js';
import { auditRoutes } from './audit.js';
import { detectionRoutes } from './detections.js';
import { incidentRoutes } from './incidents.js';
import { liveRoutes } from './live.js';
import { overviewRoutes } from './overview.js';
import { permitRoutes } from './permits.js';
import { playbookRoutes } from './playbooks.js';
import { policyRoutes } from './policy.js';
import { proposalRoutes } from './proposals.js';
import { riskRoutes } from './risk.js';
import { sessionRoutes } from './session.js';
import { siteRoutes } from './sites.js';
import { trafficRoutes } from './traffic.js';
import { userRoutes } from './users.js';
import { vulnerabilityRoutes } from './vulnerabilities.js';

/** Every resource's routes; adding a resource means adding its file under routes/ and one line here. */
export const ROUTE_PLUGINS: readonly RoutePlugin[] = [
  sessionRoutes,
  overviewRoutes,
  assetRoutes,
  detectionRoutes,
  trafficRoutes,
  policyRoutes,
  proposalRoutes,
  auditRoutes,
  userRoutes,
  incidentRoutes,
  playbookRoutes,
  vulnerabilityRoutes,
  riskRoutes,
  liveRoutes,
  permitRoutes,
  siteRoutes,
];
