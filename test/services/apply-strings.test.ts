// Declarative files get the character rule of the input schemas too
// (src/domain/text.ts, issue #13): a NUL or a lone surrogate written as a
// YAML escape is refused naming the file and field, on both databases,
// and nothing is written.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { eachProvider } from "../helpers/db.js";
import { testApp } from "../helpers/app.js";

const chart = "chart: {url: https://charts.example.com, name: operator-wandb, version: 0.20.0}";
const cases: [string, string, string, RegExp][] = [
  ["stable.yaml", 'name: stable\ndescription: "a\\0b"\n', "stable.yaml: description", /NUL/],
  ["stable.yaml", 'name: stable\ndefaultValues:\n  "k\\0": 1\n', "stable.yaml: defaultValues.k", /NUL/],
  ["stable.yaml", 'name: stable\ndefaultValues:\n  app:\n    host: "\\uD800"\n', "stable.yaml: defaultValues.app.host", /lone surrogate/],
  ["releases/1.0.0.yaml", `version: 1.0.0\n${chart}\nnotes: "x\\0"\n`, "releases/1.0.0.yaml: notes", /NUL/],
  ["releases/1.0.0.yaml", `version: 1.0.0\n${chart}\nvalues:\n  "\\uDC00": x\n`, "releases/1.0.0.yaml: values", /lone surrogate/],
  // a union: the file reader names the chart, not the branch's field
  ["releases/1.0.0.yaml", 'version: 1.0.0\nchart: {path: "charts/a\\nb"}\n', "releases/1.0.0.yaml: chart", /one line|must be one of/],
];

await eachProvider(t, "NUL and lone surrogates in declarative files: refused, naming file and field", async (t, provider) => {
  const h = await testApp(t, { provider, seed: false });
  for (const [file, text, field, reason] of cases) {
    const dir = t.testdir({ releases: {} });
    writeFileSync(join(dir, file), text);
    const err = await h.ctx.declarative.apply(dir, { sub: "test:apply" }).then(() => null, (e: { statusCode?: number; field?: string; reason?: string; message: string }) => e);
    t.ok(err, `${file} refused`);
    t.equal(err?.statusCode, 400, `${file}: a 400, not a database error`);
    t.ok(err?.field?.startsWith(field), `${file}: field ${JSON.stringify(err?.field)}`);
    t.match(`${err?.reason} ${err?.message}`, reason, `${file}: reason`);
  }
  t.same(await h.ctx.store.channels.list(), [], "no channel written");
  t.same(await h.ctx.store.releases.all(), [], "no release written");
});
