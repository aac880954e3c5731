import { APPROVER_ROLES, WEEKDAYS, ZONE_MODES } from './model.js';
import { DECOYS_SCHEMA } from './decoy-schema.js';
import { PLAYBOOK_ACTIONS, PLAYBOOK_MODES, PLAYBOOK_TRIGGERS } from './playbook-model.js';
import { PERMIT_TEMPLATES_SCHEMA } from './permit-templates.js';
import { HOST_LIST as hostList, NAME as name, PROTOCOL_SCOPE } from './schema-parts.js';

/** The policy file's shape (JSON Schema for ajv). Meaning (references, addresses, times) is checked after. */
const duration = {
  anyOf: [
    { type: 'integer', minimum: 0 },
    { type: 'string', pattern: '^[0-9]+[smhdw]$' },
  ],
};

/** A pre-approved playbook of a zone (see playbook-model.ts). */
const playbook = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'on', 'actions'],
  properties: {
    name,
    description: { type: 'string' },
    mode: { enum: [...PLAYBOOK_MODES] },
    on: { type: 'array', minItems: 1, uniqueItems: true, items: { enum: [...PLAYBOOK_TRIGGERS] } },
    when: {
      type: 'object',
      additionalProperties: false,
      properties: {
        min_severity: { enum: ['info', 'low', 'medium', 'high', 'critical'] },
        source_not_in: { type: 'array', minItems: 1, items: { type: 'string' } },
        source_unknown: { type: 'boolean' },
      },
    },
    actions: {
      type: 'array',
      minItems: 1,
      uniqueItems: true,
      items: { enum: [...PLAYBOOK_ACTIONS] },
    },
    block_ttl: duration,
    may_block: hostList,
    rate_limit: {
      type: 'object',
      additionalProperties: false,
      required: ['max', 'per'],
      properties: { max: { type: 'integer', minimum: 1, maximum: 10000 }, per: duration },
    },
  },
};

export const POLICY_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['weir', 'zones'],
  properties: {
    weir: { const: 'policy/1' },
    site: { type: 'string' },
    timezone: { type: 'string' },
    assets: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'ip'],
        properties: {
          name,
          ip: { type: 'string' },
          role: { type: 'string' },
          mac: { type: 'string' },
        },
      },
    },
    zones: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'members'],
        properties: {
          name,
          description: { type: 'string' },
          members: hostList,
          security_level: { type: 'integer', minimum: 1, maximum: 4 },
          mode: { enum: [...ZONE_MODES] },
          internal: { enum: ['allow', 'restrict'] },
          approvals: {
            type: 'array',
            minItems: 1,
            uniqueItems: true,
            items: { enum: [...APPROVER_ROLES] },
          },
          simulation_window: duration,
          playbooks: { type: 'array', items: playbook },
          layer2: {
            type: 'object',
            additionalProperties: false,
            properties: {
              engineering: { type: 'array', items: { type: 'string' } },
              publishers: { type: 'array', items: { type: 'string' } },
              unknown_ethertypes: { enum: ['log', 'drop'] },
            },
          },
        },
      },
    },
    conduits: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'from', 'to'],
        properties: {
          name,
          from: { type: 'string' },
          to: { type: 'string' },
          description: { type: 'string' },
        },
      },
    },
    groups: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'clients', 'servers'],
        properties: {
          name,
          description: { type: 'string' },
          conduit: { type: 'string' },
          clients: hostList,
          servers: hostList,
          ...PROTOCOL_SCOPE,
          transport: { enum: ['tcp', 'udp'] },
          windows: { type: 'array', minItems: 1, items: { type: 'string' } },
          secured_channels: { enum: ['allow', 'refuse'] },
        },
      },
    },
    windows: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'days', 'from', 'to'],
        properties: {
          name,
          days: { type: 'array', minItems: 1, uniqueItems: true, items: { enum: [...WEEKDAYS] } },
          from: { type: 'string', pattern: '^[0-9]{2}:[0-9]{2}$' },
          to: { type: 'string', pattern: '^[0-9]{2}:[0-9]{2}$' },
          timezone: { type: 'string' },
        },
      },
    },
    decoys: DECOYS_SCHEMA,
    permit_templates: PERMIT_TEMPLATES_SCHEMA,
  },
} as const;
