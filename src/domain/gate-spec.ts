// The small languages inside a health gate's spec (docs/api.md §9): a
// Prometheus gate's `pass` ("< 0.05", ">= 0.99": an operator and a number)
// and a webhook gate's `timeout` ("500ms", "5s", at most 60s). The schema
// (src/domain/schemas.ts) refuses what these do not parse; the gate rules
// (src/services/gate-rules.ts) read the stored text with them.

export const COMPARISON_OPS = ["<", "<=", ">", ">=", "==", "!="] as const;
export type ComparisonOp = (typeof COMPARISON_OPS)[number];
export interface Comparison {
  op: ComparisonOp;
  value: number;
}

const COMPARISON = /^\s*(<=|>=|==|!=|<|>)\s*([-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)\s*$/;

/** `"< 0.05"` → {op: "<", value: 0.05}; undefined when it is not one operator and one finite number. */
export function parseComparison(s: string): Comparison | undefined {
  const m = COMPARISON.exec(s);
  if (!m) return undefined;
  const value = Number(m[2]);
  return Number.isFinite(value) ? { op: m[1] as ComparisonOp, value } : undefined;
}

/** Whether `sample` satisfies the comparison (NaN never does). */
export function compares(c: Comparison, sample: number): boolean {
  switch (c.op) {
    case "<": return sample < c.value;
    case "<=": return sample <= c.value;
    case ">": return sample > c.value;
    case ">=": return sample >= c.value;
    case "==": return sample === c.value;
    case "!=": return sample !== c.value;
  }
}

export const GATE_TIMEOUT = /^(\d{1,5})(ms|s)$/;
export const DEFAULT_GATE_TIMEOUT_MS = 5_000;
export const MAX_GATE_TIMEOUT_MS = 60_000;

/** A gate's timeout in milliseconds ("500ms", "5s"), or undefined when it is not one this server takes (1ms to 60s). */
export function parseGateTimeout(s: string): number | undefined {
  const m = GATE_TIMEOUT.exec(s);
  if (!m) return undefined;
  const ms = Number(m[1]) * (m[2] === "s" ? 1_000 : 1);
  return ms >= 1 && ms <= MAX_GATE_TIMEOUT_MS ? ms : undefined;
}
