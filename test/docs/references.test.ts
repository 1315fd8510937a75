// Every file a comment or a document points at exists in this repository
// (issue #12: the project owns its documents). Two checks:
// - no reference to documents that live outside the repository (the team's
//   API.md, DESIGN.md, operator-contract.md, ../shared/…): the contract is
//   docs/api.md, the architecture docs/design.md;
// - every repository path named in a code comment, and every path or
//   relative link in a Markdown document, exists.
// Heuristic on purpose (comments are prose): a path is a token of letters,
// digits, `._-` and slashes that starts at a top-level directory of the
// repository (src/…, docs/…) or ends in a file extension we keep here.
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import t from "tap";

const ROOT = resolve(import.meta.dirname, "..", "..");
const SELF = relative(ROOT, import.meta.filename);

/** Where to look: top-level files and directories of the repository. */
const SCAN = ["src", "test", "bench", "scripts", "docs", "deploy", "channels", "prisma", "bin", ".ci", "README.md", ".env.example", "eslint.config.js", "Dockerfile", "docker-compose.yml"];
/** Never scanned: generated, installed or data. */
const SKIP_DIRS = new Set(["node_modules", "generated", "migrations", "dist", "data", "results"]);
/**
 * Not checked, with the reason. docs/decisions.md is an append-only record:
 * a decision may name a file or document that a later decision replaced
 * (decision 22 says where the contract lives now).
 */
const SKIP_FILES = new Set(["docs/decisions.md", SELF]);
/** Paths that exist only once built, run or installed. */
const PRODUCED = /^(src\/generated|dist|data|node_modules|bench\/results)(\/|$)/;
/** Paths the contract names before they are built: path → the issue that builds it. */
const PLANNED = new Map<string, string>([]);

const TOP = new Set(["src", "test", "bench", "scripts", "docs", "deploy", "channels", "prisma", "bin", ".ci"]);
const EXT = /\.(ts|mjs|js|md|prisma|ya?ml|json|lua|sql|tpl|txt)$/;
const FOREIGN = /\b(API\.md|DESIGN\.md|operator-contract\.md)\b|\.\.\/shared\/|\bnotes\/[\w.-]+\.md/;
const PATH = /(?<![\w./@:-])((?:\.\.?\/)*[\w.-]+(?:\/[\w.-]+)+)\/?/g;

function files(at: string): string[] {
  const full = join(ROOT, at);
  if (!existsSync(full)) return [];
  if (!statSync(full).isDirectory()) return [at];
  return readdirSync(full).flatMap((name) => (SKIP_DIRS.has(name) ? [] : files(join(at, name))));
}

/** The comment text of a source file (line comments after whitespace, block comments, # comments). */
function commentsOf(file: string, text: string): { line: number; text: string }[] {
  const hash = /\.(ya?ml|sh|tpl|example)$|Dockerfile$|\.ci\/run$|\.env\.example$/.test(file);
  return text.split("\n").flatMap((l, i) => {
    const m = hash ? /(?:^|\s)#(.*)$/.exec(l) : /(?:^|\s)(?:\/\/|\/\*\*?|\*)(.*)$/.exec(l);
    return m?.[1] ? [{ line: i + 1, text: m[1] }] : [];
  });
}

/** The prose of a Markdown file: fenced blocks are commands, not references. */
function proseOf(text: string): { line: number; text: string }[] {
  let fenced = false;
  return text.split("\n").flatMap((l, i) => {
    if (/^\s*```/.test(l)) {
      fenced = !fenced;
      return [];
    }
    return fenced ? [] : [{ line: i + 1, text: l }];
  });
}

function exists(from: string, ref: string): boolean {
  const clean = ref.replace(/[.,:;]+$/, "");
  if (PRODUCED.test(clean) || PLANNED.has(clean)) return true;
  const candidates = [join(ROOT, clean), join(ROOT, dirname(from), clean), join(ROOT, "src", clean)];
  // Imports name the compiled .js of a .ts source.
  return candidates.some((c) => existsSync(c) || (c.endsWith(".js") && existsSync(c.replace(/\.js$/, ".ts"))));
}

function referencesIn(file: string): { line: number; ref: string; foreign: boolean }[] {
  const text = readFileSync(join(ROOT, file), "utf8");
  const markdown = file.endsWith(".md");
  const out: { line: number; ref: string; foreign: boolean }[] = [];
  // Foreign documents: anywhere in the file (strings included: the OpenAPI text).
  text.split("\n").forEach((l, i) => {
    const m = FOREIGN.exec(l);
    if (m) out.push({ line: i + 1, ref: m[0], foreign: true });
  });
  for (const { line, text: prose } of markdown ? proseOf(text) : commentsOf(file, text)) {
    for (const [, token] of prose.matchAll(PATH)) {
      const ref = token!.replace(/[.,:;]+$/, "");
      const first = ref.replace(/^(\.\.?\/)+/, "").split("/")[0]!;
      if (!TOP.has(first) && !EXT.test(ref)) continue;
      if (!exists(file, ref)) out.push({ line, ref, foreign: false });
    }
    if (markdown) {
      for (const [, target] of prose.matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)) {
        if (/^[a-z]+:/.test(target!)) continue;
        if (!existsSync(join(ROOT, dirname(file), target!))) out.push({ line, ref: target!, foreign: false });
      }
    }
  }
  return out;
}

t.test("comments and documents point at files that exist in this repository", async (t) => {
  const scanned = SCAN.flatMap(files).filter((f) => !SKIP_FILES.has(f) && !f.includes("/fixtures/"));
  t.ok(scanned.length > 50, `scanned ${scanned.length} files`);
  const problems = scanned.flatMap((f) =>
    referencesIn(f).map((r) => `${f}:${r.line}: ${r.foreign ? `${r.ref} is not in this repository (use docs/api.md §N or docs/design.md)` : `${r.ref} does not exist`}`),
  );
  t.same(problems, [], problems.join("\n"));
});

t.test("the contract and the design document exist", async (t) => {
  for (const doc of ["docs/api.md", "docs/design.md"]) t.ok(existsSync(join(ROOT, doc)), doc);
});
