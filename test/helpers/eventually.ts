// Waiting on a condition with a deadline, for tests that assert a time
// bound ("B serves the promotion within 1 s of the commit") on a machine
// that may be busy.
//
// The probe is retried, not the promise: the bound counts from `from` (the
// moment the promise starts, e.g. when the admin call that committed the
// change returned), and the probe runs again and again. The wait ends
//  - with success at the first probe that passes, or
//  - with failure at the first probe that fails although it BEGAN after the
//    deadline: that probe saw the old state at a moment past the bound,
//    which is proof that the promise was broken.
// A probe that began before the deadline and failed proves nothing (on a
// busy machine it may have read the state long before it answered), so
// another probe is always made. A probe that throws counts as a failed
// probe (its error is kept for the message).
//
// On an idle machine probes take a few milliseconds, so a product that
// misses the bound still fails: the probe begun just after the deadline
// sees the old state.
import { setTimeout as sleep } from "node:timers/promises";

export interface EventuallyOptions {
  /** The bound, in ms after `from`. */
  within: number;
  /** The pause between probes, ms (default 20). */
  every?: number;
  /** performance.now() at the moment the bound counts from (default: now). */
  from?: number;
}

export interface EventuallyResult<T> {
  ok: boolean;
  /** What the passing probe returned. */
  value: T | undefined;
  /** ms from `from` to the beginning of the passing probe (or of the last failed one). */
  began: number;
  /** ms from `from` to the answer of the passing probe (or of the last failed one). */
  answered: number;
  /** ms from `from` to the beginning of the last failed probe before the passing one; -1 if none failed. */
  lastMissBegan: number;
  probes: number;
  /** The last error a probe threw, if any. */
  error: unknown;
  /** One line for an assertion message. */
  summary: string;
}

/**
 * Runs `probe` until it returns something other than false / undefined /
 * null, or until a probe begun after the deadline fails.
 */
export async function eventually<T>(probe: () => Promise<T | false | null | undefined> | T | false | null | undefined, opts: EventuallyOptions): Promise<EventuallyResult<NonNullable<T>>> {
  const from = opts.from ?? performance.now();
  const every = opts.every ?? 20;
  let probes = 0;
  let lastMissBegan = -1;
  let error: unknown;
  for (;;) {
    const began = performance.now() - from;
    let value: T | false | null | undefined;
    try {
      value = await probe();
    } catch (err) {
      error = err;
      value = undefined;
    }
    const answered = performance.now() - from;
    probes++;
    const r = (ms: number) => Math.round(ms);
    if (value !== false && value !== null && value !== undefined) {
      const late = began > opts.within ? ` (the probe before it, begun at ${r(lastMissBegan)} ms, was still before the bound: the machine is slow, not the product)` : "";
      return {
        ok: true,
        value: value as NonNullable<T>,
        began,
        answered,
        lastMissBegan,
        probes,
        error,
        summary: `seen by probe ${probes}, begun ${r(began)} ms and answered ${r(answered)} ms after the start (bound ${opts.within} ms)${late}`,
      };
    }
    if (began > opts.within) {
      const why = error === undefined ? "" : `; last probe error: ${(error as Error)?.message ?? String(error)}`;
      return {
        ok: false,
        value: undefined,
        began,
        answered,
        lastMissBegan: began,
        probes,
        error,
        summary: `NOT seen by probe ${probes}, begun ${r(began)} ms after the start, past the bound of ${opts.within} ms${why}`,
      };
    }
    lastMissBegan = began;
    // Never sleep past the deadline by more than a pause: the next probe
    // begins soon after it, so a broken promise is found without delay.
    await sleep(Math.max(1, Math.min(every, opts.within - (performance.now() - from) + 1)));
  }
}
