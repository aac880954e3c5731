/**
 * JSON schemas the routes share. The named ones are added to the server once (`app.addSchema`) and referenced
 * by `ref(...)`; each comes with the TypeScript type a route declares in its generics, so the handler reads
 * `req.params.id` typed, and the schema, checked before the handler runs, is what makes that type true.
 */
import type { FastifyInstance } from 'fastify';
import { USER_ROLES } from '../respond/roles.js';

export const id = {
  type: 'string',
  minLength: 1,
  maxLength: 128,
  pattern: '^[A-Za-z0-9:._/>|-]+$',
};
export const page = {
  limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
  offset: { type: 'integer', minimum: 0, maximum: 10_000_000, default: 0 },
};
export const note = { type: 'string', maxLength: 2000 };
export const params = (p: Record<string, unknown>) => ({
  type: 'object',
  additionalProperties: false,
  required: Object.keys(p),
  properties: p,
});
export const body = (required: string[], props: Record<string, unknown>) => ({
  type: 'object',
  additionalProperties: false,
  required,
  properties: props,
});

/** A query string of optional parameters, nothing else (defaults in `props` fill what is left out). */
export const query = (props: Record<string, unknown>) => ({
  type: 'object',
  additionalProperties: false,
  properties: props,
});

/** A reference to a named schema, for a route's `schema.params`, `schema.body` or a property. */
export const ref = (s: { $id: string }) => ({ $ref: `${s.$id}#` });

/** `/:id` of a detection, an asset or a simulation. */
export const ID_PARAMS = { $id: 'IdParams', ...params({ id }) };
export interface IdParams {
  id: string;
}

/** `/:id` of a proposal: its number. */
export const PROPOSAL_PARAMS = {
  $id: 'ProposalParams',
  ...params({ id: { type: 'string', pattern: '^[0-9]{1,9}$' } }),
};
export type ProposalParams = IdParams;

/** `/:name` of a user. */
export const USER_PARAMS = {
  $id: 'UserParams',
  ...params({ name: { type: 'string', pattern: '^[A-Za-z0-9_.-]{1,64}$' } }),
};
export interface UserParams {
  name: string;
}

/** A body that may carry a free-text note and nothing else (or no body at all). */
export const NOTE_BODY = { $id: 'NoteBody', ...body([], { note }) };
export type NoteBody = { note?: string } | undefined;

/** The roles a user holds: a non-empty set of known role names. */
export const ROLES = {
  $id: 'Roles',
  type: 'array',
  minItems: 1,
  uniqueItems: true,
  items: { enum: [...USER_ROLES] },
};

export const SHARED_SCHEMAS = [ID_PARAMS, PROPOSAL_PARAMS, USER_PARAMS, NOTE_BODY, ROLES] as const;

/** Make the named schemas known to a server (once, on the root, so every route plugin can use them). */
export function addSharedSchemas(app: FastifyInstance): void {
  for (const s of SHARED_SCHEMAS) app.addSchema(s);
}
