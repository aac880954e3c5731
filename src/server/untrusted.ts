// Kept in the store's room so the lower parts that write audit entries (permits, the CLI) escape the same way.
export { untrustedText } from '../store/untrusted-text.js';
