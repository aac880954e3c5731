import { DECOY_SERVICES } from './decoy-model.js';
import { NAME as name } from './schema-parts.js';

/** The `decoys:` section of a policy file (JSON Schema for ajv); its meaning is checked by decoy-check.ts. */
const duration = {
  anyOf: [
    { type: 'integer', minimum: 1 },
    { type: 'string', pattern: '^[0-9]+[smhdw]$' },
  ],
};

export const DECOYS_SCHEMA = {
  type: 'array',
  items: {
    type: 'object',
    additionalProperties: false,
    required: ['name', 'zone', 'addresses'],
    properties: {
      name,
      zone: { type: 'string', minLength: 1 },
      clone: { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } },
      services: {
        type: 'array',
        minItems: 1,
        uniqueItems: true,
        items: { enum: [...DECOY_SERVICES] },
      },
      addresses: {
        type: 'array',
        minItems: 1,
        maxItems: 256,
        items: { type: 'string', minLength: 1 },
      },
      active: { type: 'integer', minimum: 1, maximum: 256 },
      rotate: {
        type: 'object',
        additionalProperties: false,
        minProperties: 1,
        properties: {
          every: duration,
          windows: { type: 'array', minItems: 1, items: { type: 'string' } },
        },
      },
    },
  },
} as const;
