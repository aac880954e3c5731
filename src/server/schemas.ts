/** JSON schemas the routes share: ids, paging, notes, strict objects. */
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
