import type { FastifyPluginAsync } from 'fastify';
import type { Db } from '../store/db.js';

/** What every route plugin gets: the store and where the enforcement host keeps its runtime state. */
export interface RouteDeps {
  db: Db;
  stateDir: string;
}

/**
 * One resource's routes. Registered by the server inside its own encapsulated context, after the session
 * gate and the error handler, so every route in it is closed unless its config says `public: true`.
 */
export type RoutePlugin = FastifyPluginAsync<RouteDeps>;
