/** Parse a tshark field value holding one or more comma-separated numbers (decimal or 0x-hex). */
export function numbers(v: string | undefined): number[] {
  if (!v) return [];
  return v
    .split(',')
    .filter((x) => x !== '')
    .map((x) => Number(x));
}
