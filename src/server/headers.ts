import type { FastifyInstance } from 'fastify';
import { createHash } from 'node:crypto';

/** cytoscape adds this one rule as a <style> element; allowing exactly its hash keeps styles otherwise 'self'. */
const CYTOSCAPE_STYLE = '.__________cytoscape_container { position: relative; }';
const styleHash = `'sha256-${createHash('sha256').update(CYTOSCAPE_STYLE).digest('base64')}'`;

/** Only the dashboard's own files run, load and connect (the WebSocket is same-origin); nothing may frame it. */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  `style-src 'self' ${styleHash}`,
  "img-src 'self' data: blob:",
  "font-src 'self'",
  "connect-src 'self'",
  "manifest-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const HEADERS = {
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
};

/**
 * Security headers on every answer, refusals included (set first thing, before any check can reply), and
 * no-store on everything but the dashboard's static files, so inventory, audit and session answers never
 * sit in a browser or proxy cache.
 */
export function installSecurityHeaders(app: FastifyInstance): void {
  app.addHook('onRequest', async (_req, reply) => {
    reply.headers(HEADERS);
  });
  app.addHook('onSend', async (req, reply) => {
    // Only the static files set their own cache-control; everything else, API refusals and 404s included, is no-store.
    if (req.is404 || req.routeOptions.config.public !== true || !reply.hasHeader('cache-control'))
      reply.header('cache-control', 'no-store');
  });
}
