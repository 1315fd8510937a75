// Helm values: plain JSON objects, merged the way docs/api.md §1 says: objects
// merge key by key, arrays and scalars replace, and a `null` removes the key
// from the layers below (no `null` ever leaves a merge: the W&B operator's
// own merge crashes on one; docs/decisions.md, decision 34). Pure functions,
// table-tested in test/domain/values.test.ts.

import { textProblem } from "./text.js";

export type Values = { [key: string]: unknown };

/** Keys that would reach an object's prototype if ever used as a property. */
export const FORBIDDEN_KEYS = new Set(["__proto__", "constructor", "prototype"]);

export function isPlainObject(v: unknown): v is Values {
  if (v === null || typeof v !== "object" || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/**
 * Deep-merges `over` onto `base` into a new object; neither input changes.
 * Objects merge key by key; arrays and scalars replace; a `null` in `over`
 * removes the key. The result holds no `null` anywhere: nulls in `base`
 * are dropped too (object keys and array elements), see withoutNulls.
 */
export function mergeValues(base: Values, over: Values): Values {
  const out: Values = {};
  for (const [k, v] of Object.entries(base)) if (v !== null && !FORBIDDEN_KEYS.has(k)) out[k] = withoutNulls(v);
  for (const [k, v] of Object.entries(over)) {
    if (FORBIDDEN_KEYS.has(k)) continue;
    if (v === null) {
      delete out[k];
      continue;
    }
    const prev = out[k];
    out[k] = isPlainObject(prev) && isPlainObject(v) ? mergeValues(prev, v) : withoutNulls(v);
  }
  return out;
}

/**
 * `v` without any `null`: object keys holding null are absent, null array
 * elements are dropped. Returns `v` itself when it holds none (no copy).
 */
export function withoutNulls<T>(v: T): T {
  if (Array.isArray(v)) {
    const kept: unknown[] = [];
    let changed = false;
    for (const item of v as unknown[]) {
      if (item === null) {
        changed = true;
        continue;
      }
      const k = withoutNulls(item);
      changed ||= k !== item;
      kept.push(k);
    }
    return (changed ? kept : v) as T;
  }
  if (!isPlainObject(v)) return v;
  const kept: [string, unknown][] = [];
  let changed = false;
  for (const [key, item] of Object.entries(v)) {
    if (item === null) {
      changed = true;
      continue;
    }
    const k = withoutNulls(item);
    changed ||= k !== item;
    kept.push([key, k]);
  }
  // Object.fromEntries defines own properties: a "__proto__" key stays a key.
  return (changed ? Object.fromEntries(kept) : v) as T;
}

/**
 * The dotted paths (`a.b`, `list[2]`) of every `null` in a values tree, in
 * document order, at most `limit` of them: what a release engineer is
 * warned about, because Chartroom serves none of them.
 */
export function findNulls(root: unknown, limit = 20): string[] {
  const found: string[] = [];
  const todo: { v: unknown; path: string }[] = [{ v: root, path: "" }];
  while (todo.length > 0 && found.length < limit) {
    const { v, path } = todo.pop()!;
    if (v === null) found.push(path);
    else if (Array.isArray(v)) for (let i = v.length - 1; i >= 0; i--) todo.push({ v: v[i], path: `${path}[${i}]` });
    else if (isPlainObject(v)) {
      const keys = Object.keys(v);
      for (let i = keys.length - 1; i >= 0; i--) todo.push({ v: v[keys[i]!], path: path ? `${path}.${keys[i]}` : keys[i]! });
    }
  }
  return found;
}

/** Merges layers left to right: each deep-merged over the ones before. */
export function mergeLayers(...layers: (Values | undefined | null)[]): Values {
  let out: Values = {};
  for (const layer of layers) if (layer) out = mergeValues(out, layer);
  return out;
}

/**
 * Finds the first problem in a values tree, or undefined: a forbidden key,
 * nesting deeper than `maxDepth`, a non-JSON value, or a key or string a
 * database cannot store (src/domain/text.ts). Returns the dotted path.
 */
export function findValuesProblem(v: unknown, maxDepth = 32, path = ""): { path: string; reason: string } | undefined {
  if (maxDepth < 0) return { path, reason: "nested too deeply (at most 32 levels)" };
  if (typeof v === "string") {
    const problem = textProblem(v, "stored");
    return problem ? { path, reason: problem } : undefined;
  }
  if (v === null || typeof v === "boolean") return undefined;
  if (typeof v === "number") return Number.isFinite(v) ? undefined : { path, reason: "must be a finite number" };
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const p = findValuesProblem(v[i], maxDepth - 1, `${path}[${i}]`);
      if (p) return p;
    }
    return undefined;
  }
  if (isPlainObject(v)) {
    for (const [k, child] of Object.entries(v)) {
      const childPath = path ? `${path}.${k}` : k;
      if (FORBIDDEN_KEYS.has(k)) return { path: childPath, reason: `key "${k}" is not allowed` };
      const keyProblem = textProblem(k, "stored");
      if (keyProblem) return { path: childPath, reason: `key ${JSON.stringify(k)} ${keyProblem}` };
      const p = findValuesProblem(child, maxDepth - 1, childPath);
      if (p) return p;
    }
    return undefined;
  }
  return { path, reason: "must be JSON (object, array, string, number, boolean or null)" };
}

/** The dotted path of the first prototype-poisoning key, or undefined. Iterative: no depth limit. */
export function findPoisonedKey(root: unknown): string | undefined {
  const todo: { v: unknown; path: string }[] = [{ v: root, path: "" }];
  while (todo.length) {
    const { v, path } = todo.pop()!;
    if (v === null || typeof v !== "object") continue;
    if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) todo.push({ v: v[i], path: `${path}[${i}]` });
      continue;
    }
    const own = (k: string) => Object.prototype.hasOwnProperty.call(v, k);
    if (own("__proto__")) return path ? `${path}.__proto__` : "__proto__";
    const ctor = (v as Record<string, unknown>).constructor;
    if (own("constructor") && ctor !== null && typeof ctor === "object" && Object.prototype.hasOwnProperty.call(ctor, "prototype")) {
      return path ? `${path}.constructor` : "constructor";
    }
    const keys = Object.keys(v);
    for (let i = keys.length - 1; i >= 0; i--) {
      const k = keys[i]!;
      todo.push({ v: (v as Record<string, unknown>)[k], path: path ? `${path}.${k}` : k });
    }
  }
  return undefined;
}
