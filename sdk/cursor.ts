/** Orders two cursors (`<epoch>-<seq>`) like a sort comparator: by epoch, then sequence. */
export function compareCursors(a: string, b: string): number {
  const [ae, as] = a.split("-").map(Number);
  const [be, bs] = b.split("-").map(Number);
  return ae !== be ? ae - be : as - bs;
}
