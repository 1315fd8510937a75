// The CLI that teaches (issue 20): help for commands and families with
// examples, --version, colour only where it belongs (NO_COLOR, FORCE_COLOR),
// shell completion that a real bash runs, and "did you mean" for commands
// and flags. In-process (main() with captured output), no server.
import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import t from "tap";
import { main } from "../../src/cli/main.js";
import { ROOT, run } from "./fixtures/cli-harness.js";
import { editDistance, suggest } from "../../src/cli/suggest.js";

const exec = promisify(execFile);
// eslint-disable-next-line no-control-regex
const SGR = /\u001b\[[0-9;]*m/;

/** main() with stdout and stderr marked as terminals (or not). */
async function runTty(argv: string[], env: Record<string, string>, tty: boolean) {
  let stdout = "";
  let stderr = "";
  const code = await main(argv, { env, stdout: { isTTY: tty, write: (s: string) => (stdout += s) }, stderr: { isTTY: tty, write: (s: string) => (stderr += s) } });
  return { code, stdout, stderr };
}

t.test("command help: usage, what it does, examples, the options of every command", async (t) => {
  for (const argv of [["help", "promote"], ["promote", "--help"], ["promote", "-h"]]) {
    const r = await run(argv, {});
    t.equal(r.code, 0, `${argv.join(" ")} exits 0`);
    t.match(r.stdout, /^usage: chartroom promote VERSION --to CHANNEL/, `${argv.join(" ")}: the usage first`);
    t.match(r.stdout, /\nexamples:\n {2}chartroom promote 0\.61\.0 --to beta --from unstable/, "examples");
    t.match(r.stdout, /--dry-run +# what would change, changing nothing/, "each with what it does");
    t.match(r.stdout, /options for every command:\n {2}--json/, "the global options");
    t.equal(r.stderr, "");
  }
  const same = await run(["help", "promote"], {});
  t.equal(same.stdout, (await run(["promote", "--help"], {})).stdout, "help promote and promote --help are the same text");
  const lint = await run(["help", "release", "lint"], {});
  t.match(lint.stdout, /^usage: chartroom release lint FILE\.yaml\n\ncheck a release file offline/);
  const noEx = await run(["help", "channels"], {});
  t.equal(noEx.code, 0);
  t.notMatch(noEx.stdout, /examples:/, "no empty examples heading for a command without examples");
});

t.test("family help: release --help, license --help, help license values (were unknown commands)", async (t) => {
  for (const [argv, family, members] of [
    [["release", "--help"], "release", ["release show VERSION", "release create FILE.yaml", "release init [FILE|-] [--force]", "release lint FILE.yaml"]],
    [["license", "--help"], "license", ["license dev --sub NAME", "license issue", "license revoke JTI", "license values set SUB"]],
    [["help", "license", "values"], "license values", ["license values show SUB", "license values set SUB", "license values unset SUB"]],
    [["release"], "release", ["release init"]],
    [["help", "webhooks"], "webhooks", ["webhooks add URL"]],
  ] as const) {
    const r = await run([...argv], {});
    t.equal(r.code, 0, `${argv.join(" ")} exits 0`);
    t.match(r.stdout, new RegExp(`^chartroom ${family}: \\S`), `${argv.join(" ")}: what the family is for`);
    for (const m of members) t.match(r.stdout, `\n  chartroom ${m}`, `${argv.join(" ")} lists ${m}`);
    t.match(r.stdout, `chartroom help ${family} COMMAND`);
  }
  const top = await run(["help"], {});
  t.match(top.stdout, /chartroom help \[COMMAND\]/, "the overview says how to get one command's help");
  t.match(top.stdout, /chartroom --version/);
  t.match(top.stdout, /chartroom login /);
  t.match(top.stdout, /chartroom completion bash\|zsh/);
  t.match(top.stdout, /NO_COLOR, FORCE_COLOR/);
});

t.test("--version and chartroom version print the package's version", async (t) => {
  const { version } = JSON.parse((await import("node:fs")).readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string };
  const a = await run(["--version"], {});
  t.equal(a.code, 0);
  t.equal(a.stdout, `chartroom ${version}\n`);
  const b = await run(["version"], {});
  t.equal(b.stdout, `chartroom ${version}\n`);
  const j = await run(["version", "--json"], {});
  t.same(JSON.parse(j.stdout), { version, node: process.version });
});

t.test("colour: on a terminal only, never with NO_COLOR, FORCE_COLOR into a pipe", async (t) => {
  const tty = await runTty(["help", "promote"], {}, true);
  t.match(tty.stdout, SGR, "a terminal gets colours");
  t.equal(tty.stdout.replace(new RegExp(SGR.source, "g"), ""), (await run(["help", "promote"], {})).stdout, "the same text under the colours");
  t.notMatch((await runTty(["help", "promote"], { NO_COLOR: "1" }, true)).stdout, SGR, "NO_COLOR: none on a terminal");
  t.notMatch((await runTty(["help", "promote"], { TERM: "dumb" }, true)).stdout, SGR, "TERM=dumb: none");
  t.notMatch((await runTty(["help", "promote"], {}, false)).stdout, SGR, "a pipe: none");
  t.match((await runTty(["help", "promote"], { FORCE_COLOR: "1" }, false)).stdout, SGR, "FORCE_COLOR: colours into a pipe");
  t.notMatch((await runTty(["help", "promote"], { FORCE_COLOR: "0" }, true)).stdout, SGR, "FORCE_COLOR=0: none on a terminal");
  t.notMatch((await runTty(["help", "promote"], { FORCE_COLOR: "1", NO_COLOR: "1" }, true)).stdout, SGR, "NO_COLOR wins over FORCE_COLOR");
  const err = await runTty(["promtoe"], {}, true);
  t.ok(err.stderr.startsWith("\u001b[31merror:\u001b[0m unknown command"), "error: in red on a terminal");
  t.equal((await runTty(["promtoe"], { NO_COLOR: "1" }, true)).stderr.startsWith("error: unknown command"), true, "and plain with NO_COLOR");
});

t.test("did you mean: commands, family members, flags", async (t) => {
  const cases: [string[], RegExp][] = [
    [["promtoe", "1.0.0"], /^error: unknown command "promtoe"; did you mean "chartroom promote"\? \(chartroom help lists every command\)\n$/],
    [["rollbak", "stable"], /did you mean "chartroom rollback"\?/],
    [["release", "crate", "x.yaml"], /unknown command "release crate"; did you mean "chartroom release create"\?/],
    [["license", "revok", "x"], /did you mean "chartroom license revoke"\?/],
    [["yank", "1.0.0", "--resaon", "x"], /^error: Unknown option '--resaon'; did you mean --reason\?\nusage: chartroom yank/],
    [["promote", "1.0.0", "--to", "beta", "--dryrun"], /did you mean --dry-run\?/],
    [["help", "promtoe"], /^error: unknown command "promtoe"; did you mean "chartroom promote"\?/],
    [["frobnicate"], /^error: unknown command "frobnicate"; see chartroom help\n$/],
  ];
  for (const [argv, msg] of cases) {
    const r = await run(argv, { CHARTROOM_URL: "http://127.0.0.1:9" });
    t.equal(r.code, 2, `${argv.join(" ")}: exit 2`);
    t.match(r.stderr, msg, `${argv.join(" ")}: says what was meant`);
    t.equal(r.stdout, "");
  }
});

t.test("edit distance and suggestions (table)", async (t) => {
  const d: [string, string, number][] = [
    ["", "", 0],
    ["promote", "promote", 0],
    ["promtoe", "promote", 1],
    ["promte", "promote", 1],
    ["rollbak", "rollback", 1],
    ["kitten", "sitting", 3],
    ["abc", "", 3],
  ];
  for (const [a, b, n] of d) t.equal(editDistance(a, b), n, `${a} → ${b}: ${n}`);
  t.same(suggest("promtoe", ["promote", "rollback", "yank"]), ["promote"]);
  t.same(suggest("zzz", ["promote", "rollback"]), [], "nothing near: no suggestion");
  t.same(suggest("rel", ["releases", "release", "resolve"]), ["releases", "release"], "a prefix of three or more letters");
  t.same(suggest("x", ["y", "z"]), ["y", "z"], "one letter: one edit");
});

t.test("completion: bash completes commands, family members, options; zsh describes them", async (t) => {
  const bash = await run(["completion", "bash"], {});
  t.equal(bash.code, 0);
  t.match(bash.stdout, /^# bash completion for chartroom/);
  t.match(bash.stdout, /\ncomplete -o default -F _chartroom chartroom\n$/);
  const file = join(t.testdir({}), "chartroom.bash");
  writeFileSync(file, bash.stdout);
  const complete = async (...words: string[]) => {
    const script = `source ${JSON.stringify(file)}; COMP_WORDS=(${words.map((w) => JSON.stringify(w)).join(" ")}); COMP_CWORD=${words.length - 1}; _chartroom; printf '%s\\n' "\${COMPREPLY[@]}"`;
    const { stdout } = await exec("bash", ["--norc", "--noprofile", "-c", script]);
    return stdout.split("\n").filter((l) => l !== "");
  };
  t.same(await complete("chartroom", "prom"), ["promote"]);
  t.same(await complete("chartroom", "release", ""), ["show", "required", "create", "init", "lint"]);
  t.same(await complete("chartroom", "license", "values", "s"), ["show", "set"]);
  t.same(await complete("chartroom", "promote", "0.61.0", "--allow"), ["--allow-downgrade"]);
  t.same(await complete("chartroom", "license", "revoke", "JTI", "--f"), ["--force"]);
  t.same(await complete("chartroom", "completion", ""), [], "an argument: bash's own file names (-o default)");
  t.ok((await complete("chartroom", "")).includes("login"), "every top-level word");

  const zsh = await run(["completion", "zsh"], {});
  t.equal(zsh.code, 0);
  t.match(zsh.stdout, /^#compdef chartroom\n/);
  t.match(zsh.stdout, /\('release'\) subs=\('show:show one release' 'required:mark a release required' 'create:create an immutable release from a YAML or JSON file' 'init:write a commented release file to start from' 'lint:check a release file offline with the server'\\''s own rules'\) ;;/, "family members with their summaries, quotes escaped");
  t.match(zsh.stdout, /\('promote'\) opts=\(--to --from --expect --allow-downgrade /);
  t.match(zsh.stdout, /_describe -t commands 'chartroom command' subs/);
  t.match(zsh.stdout, /compdef _chartroom chartroom/);
  // The script parses as shell; zsh itself is not installed on every machine that runs this.
  const zshPath = await exec("sh", ["-c", "command -v zsh"]).then((r) => r.stdout.trim(), () => "");
  if (zshPath) {
    const zfile = join(t.testdir({}), "_chartroom");
    writeFileSync(zfile, zsh.stdout);
    await t.resolves(exec(zshPath, ["-n", zfile]), "zsh -n accepts it");
  } else t.comment("zsh is not installed here: its script is checked as text only");

  const fish = await run(["completion", "fish"], {});
  t.equal(fish.code, 2);
  t.match(fish.stderr, /no completion for "fish": bash or zsh/);
});
