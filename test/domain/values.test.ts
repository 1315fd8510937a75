import t from "tap";
import { findValuesProblem, mergeLayers, mergeValues } from "../../src/domain/values.js";
import { imageValues, specValues, specMetadata } from "../../src/services/spec.js";

const mergeCases: [string, object, object, object][] = [
  ["disjoint keys", { a: 1 }, { b: 2 }, { a: 1, b: 2 }],
  ["scalar replaces scalar", { a: 1 }, { a: 2 }, { a: 2 }],
  ["objects merge key by key", { a: { x: 1, y: 1 } }, { a: { y: 2, z: 3 } }, { a: { x: 1, y: 2, z: 3 } }],
  ["arrays replace, never concatenate", { a: [1, 2, 3] }, { a: [4] }, { a: [4] }],
  ["object replaces scalar", { a: 1 }, { a: { x: 1 } }, { a: { x: 1 } }],
  ["scalar replaces object", { a: { x: 1 } }, { a: "s" }, { a: "s" }],
  ["null replaces (Helm deletes the key)", { a: { x: 1 } }, { a: null }, { a: null }],
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
