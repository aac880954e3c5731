import type { RoutePlugin } from '../plugin.js';
import { enforcementOf, overviewOf } from '../views/overview.js';

/** The first page of the dashboard, and what the enforcement host runs. Read-only: any session. */
export const overviewRoutes: RoutePlugin = async (app, { db, stateDir }) => {
  app.get('/api/overview', async () => overviewOf(db, stateDir));
  app.get('/api/enforcement', async () => enforcementOf(db, stateDir));
};
