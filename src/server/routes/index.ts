import type { RoutePlugin } from '../plugin.js';
import { vulnerabilityRoutes } from './vulnerabilities.js';
import { riskRoutes } from './risk.js';
import { playbookRoutes } from './playbooks.js';

/** Every resource's routes; adding a resource means adding its file under routes/ and one line here. */
export const ROUTE_PLUGINS: readonly RoutePlugin[] = [
  playbookRoutes,
  vulnerabilityRoutes,
  riskRoutes,
];
