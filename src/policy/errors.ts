/** A problem in a policy file, placed where a person can fix it. */
export interface PolicyError {
  file: string;
  line: number;
  column: number;
  /** Path of the field, e.g. zones[1].mode; empty for the whole document. */
  field: string;
  message: string;
}

export function formatPolicyError(e: PolicyError): string {
  return `${e.file}:${e.line}:${e.column}: ${e.field ? `${e.field}: ` : ''}${e.message}`;
}

/** Thrown by loaders that cannot return errors (e.g. reading a policy stored with a proposal). */
export class PolicyInvalid extends Error {
  constructor(readonly errors: PolicyError[]) {
    super(`invalid policy:\n${errors.map(formatPolicyError).join('\n')}`);
  }
}
