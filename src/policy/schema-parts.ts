/**
 * JSON Schema pieces shared by the policy file's sections (context groups, permit templates, decoys): one
 * definition of what a name, a host list or a protocol scope may hold, so the sections cannot drift apart.
 */
export const NAME = {
  type: 'string',
  pattern: '^[A-Za-z0-9][A-Za-z0-9_.:-]*$',
  maxLength: 64,
} as const;

export const HOST_LIST = {
  type: 'array',
  minItems: 1,
  items: { type: 'string', minLength: 1 },
} as const;

/** A register or coil: one number, or a range `from-to`. */
const ADDRESS = {
  anyOf: [
    { type: 'integer', minimum: 0 },
    { type: 'string', pattern: '^[0-9]+(-[0-9]+)?$' },
  ],
} as const;

/** What a group or a template lets through of one protocol: ports, function codes, address ranges, access. */
export const PROTOCOL_SCOPE = {
  protocol: { type: 'string' },
  ports: {
    type: 'array',
    minItems: 1,
    items: { type: 'integer', minimum: 1, maximum: 65535 },
  },
  functions: {
    type: 'array',
    minItems: 1,
    items: {
      anyOf: [
        { type: 'integer', minimum: 0, maximum: 65535 },
        { type: 'string', minLength: 1 },
      ],
    },
  },
  addresses: {
    type: 'object',
    additionalProperties: { type: 'array', minItems: 1, items: ADDRESS },
  },
  /** Station addresses (Modbus unit ids, DNP3 link addresses, IEC 104 common addresses); absent: any. */
  units: {
    type: 'array',
    minItems: 1,
    items: { type: 'integer', minimum: 0, maximum: 65535 },
  },
  access: { enum: ['read-only', 'read-write'] },
} as const;
