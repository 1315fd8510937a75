// "Did you mean …?" for the CLI: the known word nearest to a typo, by
// optimal string alignment distance (Levenshtein plus the swap of two
// neighbouring letters, the commonest typo: "promtoe").

/** Edits (insert, delete, substitute, swap two neighbours) from `a` to `b`. */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

/**
 * The candidates nearest to `word` (ties in the order given), if near enough
 * to be a typo: at most a third of the word's length in edits (at least 1),
 * or a candidate that starts with the word ("rollb" for "rollback").
 */
export function suggest(word: string, candidates: readonly string[]): string[] {
  const w = word.toLowerCase();
  if (w === "") return [];
  const max = Math.max(1, Math.floor(w.length / 3));
  let best = Infinity;
  let found: string[] = [];
  for (const c of candidates) {
    const dist = c.startsWith(w) && w.length >= 3 ? 0.5 : editDistance(w, c.toLowerCase());
    if (dist > max) continue;
    if (dist < best) {
      best = dist;
      found = [c];
    } else if (dist === best && !found.includes(c)) found.push(c);
  }
  return found.slice(0, 3);
}

/** `; did you mean "a" or "b"?` (with `quote` around each), or "" when nothing is near. */
export function didYouMean(word: string, candidates: readonly string[], quote: (s: string) => string = (s) => JSON.stringify(s)): string {
  const s = suggest(word, candidates);
  return s.length === 0 ? "" : `; did you mean ${s.map(quote).join(" or ")}?`;
}
