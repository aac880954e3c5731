import type { RoutePlugin } from '../plugin.js';
import { riskReport } from '../../assess/risk-report.js';

/** Exposure paths, risk per asset and zone, and the patch plan: reads only, any role. */
export const riskRoutes: RoutePlugin = async (app, { db }) => {
  app.get('/api/risk', async () => riskReport(db));
};
