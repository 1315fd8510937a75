// A bounded string pool: equal strings held by many long-lived objects
// (a user agent or channel name per licensee) become one string. Up to
// `max` distinct values are remembered; beyond that a value is returned as
// it came, so a client sending ever-new values cannot grow the pool.
export function internPool(max: number): (s: string) => string {
  const pool = new Map<string, string>();
  return (s) => {
    const known = pool.get(s);
    if (known !== undefined) return known;
    if (pool.size < max) pool.set(s, s);
    return s;
  };
}
