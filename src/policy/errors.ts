import { formatFileError, type FileError } from '../settings/yaml-errors.js';

/** A problem in a policy file, placed where a person can fix it (the same form as every YAML file of Weir's). */
export type PolicyError = FileError;

export const formatPolicyError = formatFileError;

/** Thrown by loaders that cannot return errors (e.g. reading a policy stored with a proposal). */
export class PolicyInvalid extends Error {
  constructor(readonly errors: PolicyError[]) {
    super(`invalid policy:\n${errors.map(formatPolicyError).join('\n')}`);
  }
}
