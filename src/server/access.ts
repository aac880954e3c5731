/**
 * The session gate and role guard now live in auth.ts; this name stays so route files written against it
 * (before auth.ts) still build. New code imports from './auth.js'.
 */
export { PUBLIC, SESSION_COOKIE, installSessionGate, requireRole, type Caller } from './auth.js';
export { isApiPath } from './api-path.js';
