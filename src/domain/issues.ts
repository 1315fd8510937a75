// zod's issues in Chartroom's words: a field (dotted path) and a reason,
// one per problem. Used wherever input is validated with a schema: the
// admin API's error answers (src/plugins/error-handler.ts), the
// declarative files (src/services/apply-channels.ts) and
// `chartroom release lint` (src/cli/release-file.ts), so all three word a
// problem the same way.

export interface FieldReason {
  field: string;
  reason: string;
}

export interface ZodLikeIssue {
  path?: PropertyKey[];
  message?: string;
  code?: string;
  expected?: unknown;
  errors?: ZodLikeIssue[][];
  keys?: string[];
  /** invalid_key: why the key schema refused the key. */
  issues?: ZodLikeIssue[];
}

/** The most problems one answer lists (a body of a thousand bad entries answers the first ones). */
export const MAX_LISTED_ISSUES = 50;

/**
 * For a union (chart shapes), the branch that got furthest explains best:
 * the fewest issues, and on a tie the fewest failed refinements (a branch
 * whose refinement refused a value given, e.g. a URL of the wrong scheme, is
 * further from what was meant than one that only misses a field).
 */
function bestIssue(issue: ZodLikeIssue): ZodLikeIssue {
  if (issue.code !== "invalid_union" || !issue.errors?.length) return issue;
  const custom = (branch: ZodLikeIssue[]) => branch.filter((i) => i.code === "custom").length;
  const ranked = [...issue.errors].sort((a, b) => a.length - b.length || custom(a) - custom(b));
  const best = ranked[0]?.[0];
  if (!best) return issue;
  return bestIssue({ ...best, path: [...(issue.path ?? []), ...(best.path ?? [])] });
}

/**
 * A string field given a number: in YAML an unquoted 1.0 or 0.61 is a
 * number (and 1.10 becomes 1.1), so the reason says how to write it.
 */
function numberForString(i: ZodLikeIssue, path: string[]): string | undefined {
  if (i.code !== "invalid_type" || i.expected !== "string" || !/received number/.test(i.message ?? "")) return undefined;
  const key = path.at(-1) ?? "version";
  const example = /version|tag/i.test(key) ? "1.0.0" : "…";
  return `must be a string, not a number (YAML reads an unquoted 1.0 as a number); write it as a string: ${key}: "${example}"`;
}

/** One issue's problems (an unknown-keys issue has one per key). */
export function describeIssue(issue: ZodLikeIssue, root = "(body)"): FieldReason[] {
  const i = bestIssue(issue);
  const path = (i.path ?? []).map(String);
  if (i.code === "unrecognized_keys" && i.keys?.length) {
    return i.keys.map((k) => ({ field: [...path, k].join("."), reason: "is not a known field" }));
  }
  const field = path.join(".") || root;
  // A record key the key schema refused (an image's component name): its reason, not zod's "Invalid key in record".
  if (i.code === "invalid_key" && i.issues?.[0]?.message) return [{ field, reason: i.issues[0].message }];
  // zod's "Invalid input: expected string, received undefined": the field is missing.
  if (i.code === "invalid_type" && /received undefined$/.test(i.message ?? "")) return [{ field, reason: `is required${typeof i.expected === "string" ? ` (${i.expected === "object" ? "a mapping" : `a ${i.expected}`})` : ""}` }];
  return [{ field, reason: numberForString(i, path) ?? i.message ?? "is invalid" }];
}

/** Every problem of a parse, in order, each once, at most MAX_LISTED_ISSUES; `root` names the whole input. */
export function describeIssues(issues: readonly ZodLikeIssue[], root = "(body)"): FieldReason[] {
  const out: FieldReason[] = [];
  const seen = new Set<string>();
  for (const issue of issues) {
    for (const p of describeIssue(issue, root)) {
      const key = `${p.field}\u0000${p.reason}`;
      if (seen.has(key)) continue;
      seen.add(key);
      out.push(p);
    }
  }
  return out.slice(0, MAX_LISTED_ISSUES);
}

/** "a: why; b: why" for a message, with `prefix` before each field ("" for a body). */
export function issuesText(problems: readonly FieldReason[], prefix = ""): string {
  return problems.map((p) => `${prefix}${p.field}: ${p.reason}`).join("; ");
}
