/** A malformed-PDU reason without its numbers, so 'byte count 7 …' and 'byte count 9 …' are one kind. */
export function anomalyKind(protocol: string, reason: string): string {
  return `${protocol}: ${reason.replace(/0x[0-9a-f]+|\d+(\.\d+)?/gi, 'N')}`;
}
