/**
 * How deep a client's frame may nest. Decoding and everything after it
 * (validation, re-encoding) recurse per level, so a deep frame would end in a
 * stack overflow; no jetmesh frame needs more than a few levels, and 64 leaves
 * room for application payloads.
 */
export const MAX_NESTING_DEPTH = 64;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;

/**
 * True when JSON text opens more than `max` arrays/objects at once, found by
 * one pass over the text before JSON.parse recurses into it. Malformed text is
 * left for JSON.parse to refuse.
 */
export function jsonNestsDeeper(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) inString = true;
    else if (c === OPEN_BRACKET || c === OPEN_BRACE) {
      if (++depth > max) return true;
    } else if (c === CLOSE_BRACKET || c === CLOSE_BRACE) depth--;
  }
  return false;
}

/**
 * True when a decoded value holds arrays/objects more than `max` levels deep.
 * Walks with an explicit stack: recursing here would overflow on the very
 * values it is meant to refuse.
 */
export function valueNestsDeeper(value: unknown, max: number): boolean {
  const stack: Array<{ value: unknown; depth: number }> = [{ value, depth: 1 }];
  for (let item = stack.pop(); item !== undefined; item = stack.pop()) {
    const v = item.value;
    if (v === null || typeof v !== "object" || ArrayBuffer.isView(v)) continue;
    if (item.depth > max) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v)) {
      stack.push({ value: child, depth: item.depth + 1 });
    }
  }
  return false;
}
