import type { Message } from '../../dissect/message.js';

/**
 * 'holding_register:200..201': a written range in evidence. A single address reads 'space:address', the key
 * value findings and mutes made before findings folded per function use, so those mutes keep working.
 */
export function rangeLabel(space: string, start: number, count: number): string {
  return `${space}:${start}${count > 1 ? `..${start + count - 1}` : ''}`;
}

/** 'holding_register 200..201': the same range in a sentence. */
export function rangeText(space: string, start: number, count: number): string {
  return `${space} ${start}${count > 1 ? `..${start + count - 1}` : ''}`;
}

/** Every range a request targets, as evidence points. */
export function targetLabels(m: Message): string[] {
  return m.targets === null ? [] : m.targets.map((t) => rangeLabel(t.space, t.start, t.count));
}
