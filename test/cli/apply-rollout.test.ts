// `chartroom apply DIR` with a channel file that declares a rollout
// (docs/api.md §5), as a real process on a SQLite file: the plan's
// start-rollout row, a second apply with nothing to do, and the note about
// a running rollout the files describe otherwise.
import { cpSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import t from "tap";
import { rows, run } from "./fixtures/cli-harness.js";
import { CHANNELS_DIR } from "../helpers/app.js";


function rollouts(dbFile: string): { state: string; releaseId: string }[] {
  const db = new Database(dbFile, { readonly: true, fileMustExist: true });
  try {
    return db.prepare(`SELECT state, releaseId FROM "Rollout"`).all() as { state: string; releaseId: string }[];
  } finally {
    db.close();
  }
}

t.test("apply: a declared rollout is a start-rollout step; then nothing to do; a different declaration is a note", async (t) => {
  const root = t.testdir({});
  const dbFile = join(root, "apply.db");
  const env = { DATABASE_URL: `file:${dbFile}`, DATA_DIR: join(root, "data") };
  t.equal((await run(["apply", CHANNELS_DIR], env)).code, 0, "the sample channels first");

  const dir = join(root, "channels");
  cpSync(CHANNELS_DIR, dir, { recursive: true });
  const file = join(dir, "stable.yaml");
  writeFileSync(file, readFileSync(file, "utf8").replace("release: 0.58.1\n", "release: 0.59.2\nrollout:\n  steps:\n    - {percent: 5, bake: 2h}\n    - {percent: 25, bake: 12h}\n    - {percent: 100}\n"));
  const dry = await run(["apply", dir, "--dry-run"], env);
  t.equal(dry.code, 0, dry.stderr);
  t.same(rows(dry.stdout.split("\n").slice(1).join("\n")).slice(1, 2), [["start-rollout", "stable", "stable.yaml", "stable: 0.58.1 → 0.59.2 in 3 steps 5 %, 25 %, 100 %"]]);
  // …and how the step changes the values stable serves.
  t.match(dry.stdout, /\nvalues of stable after start-rollout:\n {2}~ app\.image\.tag: "0\.58\.1" → "0\.59\.2"\n/);
  t.same(rollouts(dbFile), [], "the dry run started nothing");

  const real = await run(["apply", dir], env);
  t.equal(real.code, 0, real.stderr);
  t.match(real.stdout, /1 step\(s\):\nACTION +TARGET +FILE +DETAIL\nstart-rollout +stable +stable\.yaml +stable: 0\.58\.1 → 0\.59\.2 in 3 steps 5 %, 25 %, 100 %\n$/);
  t.match(rollouts(dbFile), [{ state: "progressing" }]);

  const again = await run(["apply", dir], env);
  t.equal(again.stdout, `nothing to do: the database already matches ${dir}\n`);

  writeFileSync(file, readFileSync(file, "utf8").replace("percent: 5, bake: 2h", "percent: 10, bake: 2h"));
  const noted = await run(["apply", dir], env);
  t.equal(noted.code, 0, noted.stderr);
  t.match(noted.stdout, new RegExp(`^nothing to do: the database already matches ${dir.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}\nnote: stable\\.yaml: rollout [0-9a-f-]+ of 0\\.59\\.2 on channel stable is progressing at step 1 of 3 \\(5 %\\); stable\\.yaml declares another steps`));
  const json = JSON.parse((await run(["apply", dir, "--json"], env)).stdout) as { steps: unknown[]; notes: { target: string }[] };
  t.same(json.steps, []);
  t.match(json.notes, [{ target: "stable", file: "stable.yaml" }]);
  t.equal(rollouts(dbFile).length, 1, "still the one rollout");
});
