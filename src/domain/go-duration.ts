// Go duration strings, as the W&B operator reads `values.reconcileFrequency`:
// it calls Go's time.ParseDuration on the string and requeues the custom
// resource after that long; a value it cannot parse is printed and replaced
// by 1h, and a zero or negative one means it never polls again on its own
// (controller-runtime requeues only after a positive delay). So Chartroom
// refuses both when a channel or release sets it (docs/decisions.md, decision 36).

/**
 * time.ParseDuration's grammar: an optional sign, then "0", or one or more
 * decimal numbers (digits before or after a dot, at least one of them) each
 * followed by a unit: ns, us, µs (U+00B5), μs (U+03BC), ms, s, m, h.
 */
const GO_DURATION = /^[-+]?(?:0|(?:(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|\u00b5s|\u03bcs|ms|s|m|h))+)$/;
const ELEMENT = /(\d+(?:\.\d*)?|\.\d+)(ns|us|\u00b5s|\u03bcs|ms|s|m|h)/g;
const NANOS: Record<string, number> = { ns: 1, us: 1e3, "\u00b5s": 1e3, "\u03bcs": 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };
/** Go's time.Duration is an int64 of nanoseconds (about 292 years). */
const MAX_NANOS = 2 ** 63 - 1;

/** The duration in nanoseconds (a float: exact enough to compare), or undefined when Go would not parse it. */
export function parseGoDuration(s: string): number | undefined {
  if (!GO_DURATION.test(s)) return undefined;
  const sign = s.startsWith("-") ? -1 : 1;
  let nanos = 0;
  for (const m of s.matchAll(ELEMENT)) nanos += Number(m[1]) * NANOS[m[2]!]!;
  return nanos > MAX_NANOS ? undefined : sign * nanos;
}

/** The shortest poll interval a channel may ask for: "1ms" is a likely typo for "1m", and would have every cluster poll without pause. */
export const MIN_RECONCILE_FREQUENCY = "1m";
const MIN_NANOS = parseGoDuration(MIN_RECONCILE_FREQUENCY)!;

/** Why `v` is not an acceptable reconcileFrequency, or undefined when it is. */
export function reconcileFrequencyProblem(v: unknown): string | undefined {
  const expected = 'must be a Go duration string such as "30m", "1h" or "1h30m"';
  if (typeof v !== "string") return `${expected} (got ${Array.isArray(v) ? "an array" : typeof v})`;
  const nanos = parseGoDuration(v);
  if (nanos === undefined) return `${expected}; "${v.slice(0, 40)}" is not one`;
  if (nanos <= 0) return `must be positive: the operator never polls again after a zero or negative interval`;
  if (nanos < MIN_NANOS) return `must be at least ${MIN_RECONCILE_FREQUENCY}`;
  return undefined;
}
