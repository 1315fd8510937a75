import t from "tap";
import { findNulls, findValuesProblem, mergeLayers, mergeValues, withoutNulls } from "../../src/domain/values.js";
import { imageValues, specValues, specMetadata } from "../../src/services/spec.js";

const mergeCases: [string, object, object, object][] = [
  ["disjoint keys", { a: 1 }, { b: 2 }, { a: 1, b: 2 }],
  ["scalar replaces scalar", { a: 1 }, { a: 2 }, { a: 2 }],
  ["objects merge key by key", { a: { x: 1, y: 1 } }, { a: { y: 2, z: 3 } }, { a: { x: 1, y: 2, z: 3 } }],
  ["arrays replace, never concatenate", { a: [1, 2, 3] }, { a: [4] }, { a: [4] }],
  ["object replaces scalar", { a: 1 }, { a: { x: 1 } }, { a: { x: 1 } }],
  ["scalar replaces object", { a: { x: 1 } }, { a: "s" }, { a: "s" }],
  ["null removes the key from the layers below", { a: { x: 1 }, b: 1 }, { a: null }, { b: 1 }],
  ["null removes a nested key, its siblings stay", { a: { x: 1, y: 2 } }, { a: { x: null } }, { a: { y: 2 } }],
  ["null over a missing key: absent", { b: 1 }, { a: null }, { b: 1 }],
  ["null in the lower layer: absent", { a: null, b: { c: null, d: 1 } }, {}, { b: { d: 1 } }],
  ["null inside a replacing object: absent", { a: 1 }, { a: { x: null, y: 1 } }, { a: { y: 1 } }],
  ["null array elements are dropped", { a: 1 }, { a: [1, null, { x: null, y: 2 }] }, { a: [1, { y: 2 }] }],
  ["an object emptied by nulls stays an empty object", { a: { x: 1 } }, { a: { x: null } }, { a: {} }],
  ["empty overlay changes nothing", { a: { b: { c: 1 } } }, {}, { a: { b: { c: 1 } } }],
  ["deep", { a: { b: { c: { d: 1, e: 2 } } } }, { a: { b: { c: { e: 3 } } } }, { a: { b: { c: { d: 1, e: 3 } } } }],
  ["array of objects replaced whole", { a: [{ x: 1 }] }, { a: [{ y: 2 }] }, { a: [{ y: 2 }] }],
];

for (const [name, base, over, want] of mergeCases) {
  t.test(`mergeValues: ${name}`, async (t) => {
    const b = structuredClone(base);
    const o = structuredClone(over);
    t.same(mergeValues(b as never, o as never), want);
    t.same(b, base, "base unchanged");
    t.same(o, over, "overlay unchanged");
  });
}

t.test("mergeValues never writes to a prototype", async (t) => {
  const hostile = JSON.parse('{"__proto__": {"polluted": true}, "constructor": {"prototype": {"polluted": true}}}');
  const out = mergeValues({}, hostile);
  t.equal(({} as { polluted?: boolean }).polluted, undefined);
  t.notOk(Object.prototype.hasOwnProperty.call(out, "__proto__"));
});

t.test("mergeLayers applies left to right and skips missing layers", async (t) => {
  t.same(mergeLayers({ a: 1, b: 1 }, undefined, { b: 2 }, null, { c: 3 }), { a: 1, b: 2, c: 3 });
});

t.test("mergeLayers: a null removes the key from every layer below; a layer above may set it again", async (t) => {
  const channel = { global: { host: "h", extraEnv: { A: "1", B: "2" } }, reconcileFrequency: "30m" };
  const release = { global: { extraEnv: { A: null } }, reconcileFrequency: null };
  t.same(mergeLayers(channel, release), { global: { host: "h", extraEnv: { B: "2" } } });
  t.same(mergeLayers(channel, release, { reconcileFrequency: "1h" }), { global: { host: "h", extraEnv: { B: "2" } }, reconcileFrequency: "1h" });
  t.same(mergeLayers(channel, { global: null }), { reconcileFrequency: "30m" }, "a whole subtree");
});

t.test("no null survives any merge (random trees)", async (t) => {
  // A small deterministic generator: objects, arrays, scalars and nulls, nested.
  let seed = 42;
  const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) % n);
  const tree = (depth: number): unknown => {
    const k = rnd(depth > 3 ? 4 : 6);
    if (k === 0) return null;
    if (k === 1) return rnd(100);
    if (k === 2) return "s";
    if (k === 3) return rnd(2) === 0;
    if (k === 4) return Array.from({ length: rnd(4) }, () => tree(depth + 1));
    return Object.fromEntries(Array.from({ length: rnd(4) }, (_, i) => [`k${rnd(3)}${i}`, tree(depth + 1)]));
  };
  for (let i = 0; i < 300; i++) {
    const layers = Array.from({ length: 4 }, () => ({ a: tree(0), b: tree(0), [`c${rnd(3)}`]: tree(0) }));
    const before = structuredClone(layers);
    const merged = mergeLayers(...layers);
    if (findNulls(merged).length > 0) return t.fail(`null survived: ${JSON.stringify(layers)} -> ${JSON.stringify(merged)}`);
    t.same(layers, before, "inputs unchanged");
  }
  t.pass("300 random merges, no null in any result");
});

t.test("withoutNulls returns the same object when there is nothing to drop", async (t) => {
  const v = { a: [1, { b: "x" }], c: { d: true } };
  t.equal(withoutNulls(v), v);
  t.same(withoutNulls({ a: [null], b: { c: null } }), { a: [], b: {} });
  const hostile = JSON.parse('{"__proto__": {"polluted": true}, "x": null}');
  const out = withoutNulls(hostile) as Record<string, unknown>;
  t.equal(({} as { polluted?: boolean }).polluted, undefined, "no prototype written");
  t.ok(Object.prototype.hasOwnProperty.call(out, "__proto__"), "the key stays a key");
});

t.test("findNulls lists every null's path in document order, up to the limit", async (t) => {
  t.same(findNulls({ a: null, b: { c: [1, null, { d: null }] }, e: 1 }), ["a", "b.c[1]", "b.c[2].d"]);
  t.same(findNulls({ x: 1, y: [true, "s"] }), []);
  t.same(findNulls(Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`k${i}`, null])), 3), ["k0", "k1", "k2"]);
});

t.test("spec values: channel ⊕ release ⊕ images ⊕ overrides", async (t) => {
  const v = specValues(
    { defaultValues: { app: { image: { repository: "channel/app", tag: "0" }, replicas: 1 }, global: { host: "h" } } },
    { values: { app: { replicas: 2 }, global: { extra: 1 } }, images: { app: { repository: "r/app", tag: "1.2.3" }, console: { repository: "r/console", digest: `sha256:${"a".repeat(64)}` } } },
    { app: { replicas: 5 }, global: { host: "customer" } },
  );
  t.same(v, {
    app: { image: { repository: "r/app", tag: "1.2.3" }, replicas: 5 },
    global: { host: "customer", extra: 1 },
    console: { image: { repository: "r/console", digest: `sha256:${"a".repeat(64)}` } },
  });
});

t.test("imageValues renders <component>.image.repository/tag", async (t) => {
  t.same(imageValues({ weave: { repository: "wandb/weave", tag: "0.1" } }), { weave: { image: { repository: "wandb/weave", tag: "0.1" } } });
  t.same(imageValues({}), {});
});

t.test("metadata values are all strings", async (t) => {
  const m = specMetadata({ name: "stable" }, { id: "r1", version: "1.0.0", createdAt: new Date(0), chart: { path: "/x" } } as never, { pinned: true, overridden: true });
  for (const [k, v] of Object.entries(m)) t.equal(typeof v, "string", k);
  t.equal(m.chartVersion, "", "a local chart has no version: empty string, not null");
  t.equal(m.pinned, "true");
});

const problems: [string, unknown, string | undefined][] = [
  ["fine", { a: [1, "x", null, true, { b: 1.5 }] }, undefined],
  ["forbidden key deep", JSON.parse('{"a": {"__proto__": 1}}'), "a.__proto__"],
  ["constructor key", { a: { constructor: 1 } }, "a.constructor"],
  ["too deep", JSON.parse("[".repeat(40) + "]".repeat(40)), ""],
  ["not finite", { a: Infinity }, "a"],
  ["not JSON", { a: () => 1 }, "a"],
  // what a database cannot store (issue #13); other control characters are data
  ["NUL in a string", { a: { b: ["x", "y\u0000"] } }, "a.b[1]"],
  ["lone surrogate in a string", { a: "\ud800" }, "a"],
  ["NUL in a key", { a: { "k\u0000": 1 } }, "a.k\u0000"],
  ["lone surrogate in a key", { "\udfff": 1 }, "\udfff"],
  ["control characters and pairs are fine", { a: "line\n\u001b[0m 😀", "tab\tkey": 1 }, undefined],
];
for (const [name, value, path] of problems) {
  t.test(`findValuesProblem: ${name}`, async (t) => {
    const p = findValuesProblem(value);
    if (path === undefined) t.equal(p, undefined);
    else t.equal(p?.path.startsWith(path), true, `at ${p?.path}`);
  });
}
