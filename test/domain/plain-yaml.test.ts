// Plain-data YAML (src/domain/plain-yaml.ts): what declarative files,
// release files and values files may hold. Each refusal names the line.
import t from "tap";
import { MAX_ALIAS_COUNT, YamlDataError, parsePlainYaml } from "../../src/domain/plain-yaml.js";

/** Nine anchors, each a list of nine aliases of the one before: 9^9 nodes once expanded. */
function aliasBomb(): string {
  const lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]'];
  for (let i = 1; i < 9; i++) lines.push(`a${i}: &a${i} [${Array(9).fill(`*a${i - 1}`).join(", ")}]`);
  return `${lines.join("\n")}\n`;
}

const refused: [string, string, number | undefined, RegExp][] = [
  ["a JavaScript function tag", "name: stable\nvalues:\n  hook: !!js/function 'function () { return 1 }'\n", 3, /the tag !!js\/function is not allowed/],
  ["an unknown local tag", "name: stable\ndescription: !custom hello\n", 2, /the tag !custom is not allowed/],
  ["!!binary (resolved to bytes even under the core schema)", "values:\n  blob: !!binary aGVsbG8=\n", 2, /the tag !!binary is not allowed/],
  ["!!timestamp (a Date)", "at: !!timestamp 2001-12-14\n", 1, /the tag !!timestamp is not allowed/],
  ["!!set (YAML 1.1)", "%YAML 1.1\n---\ns: !!set {a, b}\n", 3, /the tag !!set is not allowed/],
  ["a verbatim tag", "a: !<tag:example.com,2026:thing> x\n", 1, /the tag tag:example\.com,2026:thing is not allowed/],
  ["two documents", "name: a\n---\nname: b\n", 2, /second YAML document/],
  ["a syntax error (found at the end of the input)", "name: [unclosed\n", 2, /not valid YAML/],
  ["a duplicate key", "name: a\nname: b\n", 2, /not valid YAML: Map keys must be unique/],
  ["an alias bomb", aliasBomb(), 2, new RegExp(`aliases expand to more than ${MAX_ALIAS_COUNT} nodes`)],
];

for (const [name, text, line, reason] of refused) {
  t.test(`refused: ${name}`, async (t) => {
    const started = performance.now();
    const err = (() => {
      try {
        parsePlainYaml(text);
        return undefined;
      } catch (e) {
        return e;
      }
    })();
    t.type(err, YamlDataError, "a YamlDataError, not data");
    const e = err as YamlDataError;
    t.equal(e.line, line, `line ${line}`);
    t.match(e.message, reason);
    if (line !== undefined) t.match(e.message, new RegExp(`^line ${line}: `), "the message names the line");
    const ms = performance.now() - started;
    t.comment(`refused in ${ms.toFixed(1)} ms`);
    t.ok(ms < 2000, "quickly");
  });
}

t.test("plain data is accepted as written", async (t) => {
  t.same(parsePlainYaml("a: !!str 123\nb: !!int '7'\nc: !!float 1.5\nd: !!bool true\ne: !!null ''\nf: !!map {x: 1}\ng: !!seq [1]\n"), {
    a: "123",
    b: 7,
    c: 1.5,
    d: true,
    e: null,
    f: { x: 1 },
    g: [1],
  });
  // The core schema: YAML 1.1's yes/no and sexagesimal numbers stay strings.
  t.same(parsePlainYaml("a: yes\nb: 1:20\nc: 0o17\nd: ~\n"), { a: "yes", b: "1:20", c: 15, d: null });
  // A few aliases are fine (shared image settings, say); << is a plain key, not a merge.
  t.same(parsePlainYaml("base: &img {repository: wandb/local}\napp: *img\n"), { base: { repository: "wandb/local" }, app: { repository: "wandb/local" } });
  t.same(parsePlainYaml("a: &x {b: 1}\n<<: *x\n"), { a: { b: 1 }, "<<": { b: 1 } });
  t.equal(parsePlainYaml(""), null, "an empty file is null (the schemas then say what is missing)");
  t.equal(parsePlainYaml("# only a comment\n"), null);
});
