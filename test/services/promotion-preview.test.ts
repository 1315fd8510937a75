// The dry run's diffs and counts (src/services/promotion-preview.ts): applied
// with an independent RFC 6902 implementation's patch (rfc6902's applyPatch
// checks each `test`), every diff turns its input into its output; every
// replace and remove names the value it replaces; key order does not matter.
import t from "tap";
import { applyPatch } from "rfc6902";
import { affectedOf, jsonDiff, servedValues } from "../../src/services/promotion-preview.js";
import type { Release } from "../../src/domain/schemas.js";

const pairs: [string, unknown, unknown][] = [
  ["equal", { a: 1, b: { c: [1, 2] } }, { b: { c: [1, 2] }, a: 1 }],
  ["a scalar changes", { app: { image: { tag: "0.60.0" } } }, { app: { image: { tag: "0.61.0" } } }],
  ["a key is added and one removed", { a: 1, b: 2 }, { a: 1, c: { d: true } }],
  ["from nothing", {}, { a: { b: [1, { c: "x" }] } }],
  ["to nothing", { a: { b: [1, { c: "x" }] } }, {}],
  ["arrays shrink and grow", { l: [1, 2, 3, 4, 5], m: ["a"] }, { l: [1, 3, 5], m: ["a", "b", "c"] }],
  ["an array element changes in place", { l: [{ n: 1 }, { n: 2 }, { n: 3 }] }, { l: [{ n: 1 }, { n: 20 }] }],
  ["type changes", { a: [1], b: { c: 1 }, d: "s" }, { a: { x: 1 }, b: [1], d: 4 }],
  ["keys needing escapes", { "a/b": 1, "c~d": { "": 2 } }, { "a/b": 2, "c~d": { "": 3, "e.f": 4 } }],
];

for (const [what, from, to] of pairs) {
  t.test(what, async (t) => {
    const patch = jsonDiff(from, to);
    const doc = structuredClone(from);
    t.same(applyPatch(doc, patch as Parameters<typeof applyPatch>[1]).filter((e) => e !== null), [], "every operation applies, every test holds");
    t.same(doc, to, "the patch turns the input into the output");
    for (const [i, op] of patch.entries()) {
      if (op.op === "replace" || op.op === "remove") t.match(patch[i - 1], { op: "test", path: op.path }, `${op.op} ${op.path} follows a test of the value it changes`);
      t.ok(["add", "remove", "replace", "test"].includes(op.op), `${op.op}: an RFC 6902 operation`);
    }
    t.same(jsonDiff(reordered(from), reordered(to)), patch, "the same patch whatever the key order");
    if (what === "equal") t.same(patch, [], "equal values: no operation");
  });
}

t.test("a diff applied to other values fails on its tests", async (t) => {
  const patch = jsonDiff({ a: 1 }, { a: 2 });
  t.ok(applyPatch({ a: 5 }, patch as Parameters<typeof applyPatch>[1]).some((e) => e !== null));
});

t.test("served values are the spec builder's: a null removes a key of the channel's defaults", async (t) => {
  const release = { values: { b: null, c: { d: 1 } }, images: { app: { repository: "r", tag: "1" } } } as unknown as Release;
  t.same(servedValues({ defaultValues: { a: 1, b: 2 } }, release), { a: 1, c: { d: 1 }, app: { image: { repository: "r", tag: "1" } } });
  t.same(servedValues({ defaultValues: { a: 1 } }, null), {}, "no release: nothing served");
});

t.test("affected licensees by release", async (t) => {
  t.same(affectedOf([]), { licensees: 0, byRelease: {} });
  t.same(
    affectedOf([
      { channel: "stable", releaseVersion: "0.58.1", licensees: 3 },
      { channel: "stable", releaseVersion: null, licensees: 1 },
      { channel: "stable", releaseVersion: "0.59.2", licensees: 2 },
    ]),
    { licensees: 6, byRelease: { "0.58.1": 3, none: 1, "0.59.2": 2 } },
  );
});

/** The same data, object keys in reverse order. */
function reordered(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(reordered);
  if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).reverse().map(([k, x]) => [k, reordered(x)]));
  return v;
}
