// A TypeScript port of how the W&B operator (github.com/wandb/operator)
// layers values over the spec Chartroom serves, written from reading its Go
// code, for tests that check a served spec survives it. Values are what Go's
// encoding/json decodes: map[string]interface{} (a plain object),
// []interface{} (an array), string, float64 (a number), bool, and nil (null).
//
// Upstream, in that repository:
// - pkg/utils/merge.go, Merge(src, dst): `src` is the higher layer.
//   reflect.TypeOf(nil) is a nil Type, and calling Kind() on it panics: a
//   null on either side of a key both sides hold crashes the reconcile
//   (OperatorMergePanic). Two kinds that differ return ErrTypeNotMatch
//   (OperatorMergeError). Maps: each key of dst missing from src is copied
//   in as it is (no recursion, so a null there is harmless), a shared key
//   recurses, keys only src holds stay. Slices: src's elements, then dst's
//   (lists concatenate). Anything else: src wins. It writes into src's map.
// - pkg/wandb/spec/spec.go, Spec.Merge / mergeConfig: a layer whose values
//   are nil is skipped; when the merged values so far are nil, the layer's
//   map is taken as it is (no merge, so no panic).
// - internal/controller/v1/reconcile_v1.go (removed upstream in "Remove v1
//   reconcile", #178; the deployed v1 operator still runs it): the desired
//   spec is the custom resource's values, then the system console's user
//   input, then the deployer's spec (what Chartroom serves), then
//   pkg/wandb/spec/operator/operator.go's Defaults (global.operator.apiVersion
//   and .namespace), each merged UNDER the ones before ("first takes
//   precedence"). Then Spec.IsEqual compares metadata, chart and values
//   with reflect.DeepEqual against the active spec and re-applies Helm on
//   any difference.
// - pkg/wandb/spec/channel/deployer/deployer.go, GetSpec: the body is
//   decoded with encoding/json into {metadata map[string]string, values,
//   chart}.

export type GoKind = "map" | "slice" | "string" | "float64" | "bool" | "nil";

/** The reflect.Kind (or nil) of a value decoded by encoding/json. */
export function goKind(v: unknown): GoKind {
  if (v === null || v === undefined) return "nil";
  if (Array.isArray(v)) return "slice";
  if (typeof v === "object") return "map";
  if (typeof v === "string") return "string";
  if (typeof v === "number") return "float64";
  if (typeof v === "boolean") return "bool";
  throw new Error(`not a JSON value: ${typeof v}`);
}

/** The Go panic: reflect.TypeOf(nil).Kind(), a nil pointer dereference. */
export class OperatorMergePanic extends Error {
  override name = "OperatorMergePanic";
  constructor(readonly path: string) {
    super(`runtime error: invalid memory address or nil pointer dereference (reflect on a nil value at ${path || "(root)"})`);
  }
}

/** utils.ErrTypeNotMatch ("type not match"), with where it happened. */
export class OperatorMergeError extends Error {
  override name = "OperatorMergeError";
  constructor(readonly path: string, readonly srcKind: GoKind, readonly dstKind: GoKind) {
    super(`type not match at ${path || "(root)"}: ${srcKind} over ${dstKind}`);
  }
}

type Json = unknown;

/** pkg/utils/merge.go Merge(src, dst): mutates and returns src, like the Go code. */
function merge(src: Json, dst: Json, path: string): Json {
  const srcKind = goKind(src);
  const dstKind = goKind(dst);
  // srcType.Kind() / dstType.Kind() on a nil reflect.Type: the panic.
  if (srcKind === "nil" || dstKind === "nil") throw new OperatorMergePanic(path);
  if (srcKind !== dstKind) throw new OperatorMergeError(path, srcKind, dstKind);
  switch (srcKind) {
    case "map": {
      const srcMap = src as Record<string, Json>;
      for (const [k, dstVal] of Object.entries(dst as Record<string, Json>)) {
        const childPath = path ? `${path}.${k}` : k;
        if (!Object.prototype.hasOwnProperty.call(srcMap, k)) srcMap[k] = dstVal;
        else srcMap[k] = merge(srcMap[k], dstVal, childPath);
      }
      return srcMap;
    }
    case "slice":
      // append(convertSlice(src), convertSlice(dst)...)
      return [...(src as Json[]), ...(dst as Json[])];
    default:
      return src;
  }
}

/** pkg/wandb/spec/spec.go Spec.Merge's values part: `higher` so far, `lower` merged under it. */
function mergeUnder(higher: Record<string, Json> | undefined, lower: Record<string, Json> | undefined): Record<string, Json> | undefined {
  if (lower === undefined) return higher; // spec == nil, or spec.Values == nil
  if (higher === undefined) return lower; // s.Values == nil: taken as it is
  return merge(higher, lower, "") as Record<string, Json>;
}

export interface OperatorLayers {
  /** The custom resource's spec.values (undefined: the CR sets none). */
  customResource?: Record<string, Json> | undefined;
  /** The system console's user input spec values (the operator starts it as {}). */
  userInput?: Record<string, Json> | undefined;
  /** The deployer's spec values: what Chartroom serves. undefined: air-gapped, nothing fetched. */
  deployer?: Record<string, Json> | undefined;
  /** OPERATOR_NAMESPACE (default "wandb"). */
  operatorNamespace?: string;
}

/**
 * reconcile_v1.go's desired values: CR, then user input, then the deployer's
 * spec, then the operator defaults, the first taking precedence. Throws
 * OperatorMergePanic or OperatorMergeError where the operator would fail
 * the reconcile. The inputs are not changed (they are copied first, since
 * the Go code writes into its maps).
 */
export function operatorDesiredValues(layers: OperatorLayers): Record<string, Json> {
  const copy = <T>(v: T): T => (v === undefined ? v : structuredClone(v));
  const defaults = { global: { operator: { apiVersion: "apps.wandb.com/v1", namespace: layers.operatorNamespace ?? "wandb" } } };
  let desired: Record<string, Json> | undefined;
  desired = mergeUnder(desired, copy(layers.customResource));
  desired = mergeUnder(desired, copy(layers.userInput ?? {}));
  desired = mergeUnder(desired, copy(layers.deployer));
  desired = mergeUnder(desired, defaults);
  return desired ?? {};
}

/** Every path of a values tree (objects only; arrays are leaves, as the merge treats them) with its kind. */
export function kindsByPath(v: Json, path = "", out = new Map<string, GoKind>()): Map<string, GoKind> {
  out.set(path, goKind(v));
  if (goKind(v) === "map") for (const [k, child] of Object.entries(v as Record<string, Json>)) kindsByPath(child, path ? `${path}.${k}` : k, out);
  return out;
}

/** Paths where both sides hold a list: the operator concatenates them (duplicates entries). */
export function sharedLists(a: Json, b: Json): string[] {
  const ka = kindsByPath(a);
  const kb = kindsByPath(b);
  return [...ka].filter(([p, k]) => k === "slice" && kb.get(p) === "slice").map(([p]) => p);
}

export interface DecodedSpec {
  metadata: Record<string, string> | null;
  chart: unknown;
  values: Record<string, Json> | undefined;
}

/**
 * deployer.go GetSpec's json.Unmarshal into SpecUnknownChart: metadata is a
 * *map[string]string (a non-string value fails the whole decode, and the
 * operator drops the spec), values a *map[string]interface{} (null: not set;
 * anything but an object fails the decode), chart anything.
 */
export function decodeDeployerBody(body: string): DecodedSpec {
  const raw = JSON.parse(body) as unknown;
  if (goKind(raw) !== "map") throw new Error("json: cannot unmarshal a non-object into SpecUnknownChart");
  const { metadata = null, values = null, chart = null } = raw as Record<string, Json>;
  if (metadata !== null) {
    if (goKind(metadata) !== "map") throw new Error("json: cannot unmarshal metadata into map[string]string");
    for (const [k, v] of Object.entries(metadata as Record<string, Json>)) {
      if (typeof v !== "string") throw new Error(`json: cannot unmarshal ${goKind(v)} into metadata.${k} of type string`);
    }
  }
  if (values !== null && goKind(values) !== "map") throw new Error("json: cannot unmarshal values into spec.Values");
  return { metadata: metadata as Record<string, string> | null, chart, values: values === null ? undefined : (values as Record<string, Json>) };
}
