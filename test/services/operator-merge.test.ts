// Every spec Chartroom serves from the sample channels survives the W&B
// operator's own merge under the operator guide's example custom resources:
// no panic, no "type not match", and no key whose kind the merge changes.
// The merge is test/helpers/operator-merge.ts (a port of the Go code); the
// custom resources are test/fixtures/operator-guide-cr.yaml.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import t, { type Test } from "tap";
import YAML from "yaml";
import { readDeclarations } from "../../src/services/apply-channels.js";
import { buildSpec, serializeSpec } from "../../src/services/spec.js";
import type { Release } from "../../src/domain/schemas.js";
import { findNulls, type Values } from "../../src/domain/values.js";
import { CHANNELS_DIR, testApp } from "../helpers/app.js";
import { eachProvider } from "../helpers/db.js";
import {
  decodeDeployerBody,
  kindsByPath,
  operatorDesiredValues,
  sharedLists,
} from "../helpers/operator-merge.js";

/** The guide's custom resources' spec.values, parsed as kubectl would (YAML 1.1, like sigs.k8s.io/yaml). */
const CRS: { name: string; values: Values }[] = YAML.parseAllDocuments(readFileSync(join(import.meta.dirname, "..", "fixtures", "operator-guide-cr.yaml"), "utf8"), { version: "1.1" }).map((d, i) => {
  const cr = d.toJS() as { spec: { values: Values } };
  return { name: i === 0 ? "guide: configuration example" : "guide: complete example (GCP)", values: cr.spec.values };
});

t.test("the fixture holds the guide's two custom resources", async (t) => {
  t.equal(CRS.length, 2);
  t.equal((CRS[0]!.values.global as Values).host, "https://wandb.yourdomain.com");
  t.equal(((CRS[0]!.values.global as Values).mysql as Values).port, 3306, "a number, as encoding/json decodes it");
  t.equal(((CRS[0]!.values.app as Values).image as Values).tag, "0.59.2", "a string");
  t.equal(((CRS[1]!.values.ingress as Values).annotations as Values)["kubernetes.io/ingress.class"], "gce");
});

// The port itself: each branch of the Go code, so the checks below can fail.
t.test("operator merge port: the Go behaviours", async (t) => {
  const desired = (cr: Values | undefined, deployer: Values | undefined, userInput: Values = {}) => operatorDesiredValues({ customResource: cr, userInput, deployer });
  t.same(desired({ a: 1 }, { a: 2, b: 3 }), { a: 1, b: 3, global: { operator: { apiVersion: "apps.wandb.com/v1", namespace: "wandb" } } }, "the CR wins on scalars, the deployer fills what is missing, defaults last");
  t.same(desired({ l: [1] }, { l: [2, 3] }, { l: [9] }).l, [1, 9, 2, 3], "lists concatenate: CR, then user input, then deployer");
  t.same(desired({ m: { x: 1 } }, { m: { y: 2 } }).m, { x: 1, y: 2 }, "maps merge");
  t.same(desired({ a: 1 }, { n: null }).n, null, "a null only the lower layer holds is copied in as it is");
  t.same(desired({ n: null }, { a: 1 }).n, null, "a null only the higher layer holds stays");
  t.throws(() => desired({ a: { b: null } }, { a: { b: "x" } }), { name: "OperatorMergePanic" }, "null over a shared key: the panic");
  t.throws(() => desired({ a: { b: "x" } }, { a: { b: null } }), { name: "OperatorMergePanic" }, "null under a shared key: the panic");
  t.throws(() => desired({ a: { b: "1" } }, { a: { b: 1 } }), { name: "OperatorMergeError" }, "string over float64: type not match");
  t.throws(() => desired({ a: "s" }, { a: { b: 1 } }), { name: "OperatorMergeError" }, "string over map");
  t.throws(() => desired({}, { global: { operator: "x" } }), { name: "OperatorMergeError" }, "the operator's own defaults merge too");
  t.same(desired(undefined, { a: 1 }), { a: 1, global: { operator: { apiVersion: "apps.wandb.com/v1", namespace: "wandb" } } }, "a CR without values: the next layer is taken as it is");
  t.same(operatorDesiredValues({ customResource: { a: 1 }, userInput: {} }), { a: 1, global: { operator: { apiVersion: "apps.wandb.com/v1", namespace: "wandb" } } }, "air-gapped: no deployer layer");
  const cr = { a: { b: [1] } };
  desired(cr, { a: { b: [2], c: 1 } });
  t.same(cr, { a: { b: [1] } }, "inputs unchanged (the Go code writes into its maps; the port copies first)");
  t.throws(() => decodeDeployerBody(JSON.stringify({ metadata: { version: 1 }, values: {} })), /metadata.version/, "metadata is map[string]string");
  t.throws(() => decodeDeployerBody(JSON.stringify({ metadata: {}, values: [] })), /values/, "values must be an object");
  t.same(decodeDeployerBody(JSON.stringify({ metadata: { a: "b" }, chart: {}, values: null })).values, undefined, "null values: not set");
});

/** Asserts the operator can layer `body` (a served spec) under every guide CR without failing or changing a kind. */
function assertSurvives(t: Test, label: string, body: string): void {
  const decoded = decodeDeployerBody(body);
  t.ok(decoded.metadata !== null && Object.values(decoded.metadata).every((v) => typeof v === "string"), `${label}: metadata decodes as map[string]string`);
  const served = decoded.values ?? {};
  t.same(findNulls(JSON.parse(body)), [], `${label}: no null in the body`);
  for (const cr of CRS) {
    let merged: Values;
    try {
      merged = operatorDesiredValues({ customResource: cr.values, userInput: {}, deployer: served });
    } catch (err) {
      t.fail(`${label} under ${cr.name}: the operator's merge fails: ${(err as Error).message}`);
      continue;
    }
    const after = kindsByPath(merged);
    const changed = [
      ...[...kindsByPath(served)].filter(([p, k]) => after.get(p) !== k).map(([p, k]) => `${p || "(root)"}: served ${k}, merged ${after.get(p)}`),
      ...[...kindsByPath(cr.values)].filter(([p, k]) => after.get(p) !== k).map(([p, k]) => `${p || "(root)"}: CR ${k}, merged ${after.get(p)}`),
    ];
    t.same(changed, [], `${label} under ${cr.name}: no key changes kind`);
    const lists = sharedLists(cr.values, served);
    if (lists.length > 0) t.comment(`${label} under ${cr.name}: lists both sides set are concatenated by the operator: ${lists.join(", ")}`);
  }
}

t.test("every channel × release of the samples (pure): served specs survive the operator's merge", async (t) => {
  const { channels, releases } = readDeclarations(CHANNELS_DIR);
  t.ok(channels.length >= 3 && releases.length >= 3, `${channels.length} channels, ${releases.length} releases`);
  for (const c of channels) {
    for (const r of releases) {
      const release: Release = { id: `id-${r.input.version}`, ...r.input, createdBy: "t", createdAt: new Date(0), yankedAt: null, yankedBy: null, yankReason: null, required: false, requiredReason: null, requiredBy: null, requiredAt: null, upgradeFrom: null };
      for (const [how, overrides] of [["", undefined], [" with a licensee override", { global: { extraEnv: null, host: "https://licensee.example.com" }, ingress: null }]] as const) {
        const spec = buildSpec({ name: c.input.name, defaultValues: c.input.defaultValues }, release, { overrides, pinned: true });
        assertSurvives(t, `${c.input.name} @ ${r.input.version}${how}`, serializeSpec(spec, release, c.input.name).body.toString("utf8"));
      }
    }
  }
});

t.test("a null in a release's values: served without it, so the operator's merge no longer crashes", async (t) => {
  const stable = readDeclarations(CHANNELS_DIR).channels.find((c) => c.input.name === "stable")!;
  const release: Release = {
    id: "r-null", version: "9.0.0", chart: { url: "https://charts.wandb.ai", name: "operator-wandb", version: "0.18.0" }, images: {},
    values: { mysql: { install: null }, ingress: { annotations: null }, global: { extraEnv: { ENABLE_REGISTRY_UI: null } } },
    notes: "", createdBy: "t", createdAt: new Date(0), yankedAt: null, yankedBy: null, yankReason: null, required: false, requiredReason: null, requiredBy: null, requiredAt: null, upgradeFrom: null,
  };
  // What the operator would have got had the nulls been served as they are (decision 7 before issue #14).
  const raw = { ...stable.input.defaultValues, ...release.values };
  t.throws(() => operatorDesiredValues({ customResource: CRS[0]!.values, deployer: raw }), { name: "OperatorMergePanic" }, "a served null crashes the reconcile under the guide's CR");
  const body = serializeSpec(buildSpec(stable.input, release), release, "stable").body.toString("utf8");
  const values = (JSON.parse(body) as { values: Values }).values;
  t.same(values.mysql, {}, "mysql.install removed from the channel's defaults");
  t.notOk("annotations" in (values.ingress as Values), "ingress.annotations removed");
  assertSurvives(t, "stable with null release values", body);
});

eachProvider(t, "served over HTTP: every sample channel and every release it has held (pinned) survives the operator's merge", async (t, provider) => {
  const h = await testApp(t, { provider });
  const { channels, releases } = readDeclarations(CHANNELS_DIR);
  const versions = releases.map((r) => r.input.version).sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
  // Walk every channel up through every later release, so each has held several.
  for (const c of channels) {
    const current = c.release!;
    for (const v of versions.filter((v) => v.localeCompare(current, undefined, { numeric: true }) > 0)) {
      const res = await h.admin("POST", `/channels/${c.input.name}/promote`, { release: v }, "release-engineer");
      t.equal(res.statusCode, 200, `promote ${c.input.name} to ${v}`);
    }
  }
  const overridden = "licensee-with-nulls";
  t.equal((await h.admin("PUT", `/licenses/${overridden}/values`, { values: { global: { extraEnv: null }, mysql: null } })).statusCode, 200);
  let polled = 0;
  for (const c of channels) {
    for (const sub of ["customer-1", overridden]) {
      const license = h.license({ sub, channel: c.input.name });
      const now = await h.poll(license);
      t.equal(now.statusCode, 200, `${c.input.name} for ${sub}`);
      assertSurvives(t, `${provider} ${c.input.name} for ${sub}`, now.body);
      polled++;
      const history = JSON.parse((await h.admin("GET", `/channels/${c.input.name}/history?limit=50`)).body) as { items: { toVersion: string | null }[] };
      const held = [...new Set(history.items.map((e) => e.toVersion).filter((v): v is string => v !== null))];
      t.ok(held.length >= 1, `${c.input.name} has held ${held.join(", ")}`);
      for (const v of held) {
        const pinned = await h.poll(license, `/api/v1/operator/channel/release/${v}`);
        t.equal(pinned.statusCode, 200, `${c.input.name} pinned to ${v} for ${sub}`);
        assertSurvives(t, `${provider} ${c.input.name} pinned ${v} for ${sub}`, pinned.body);
        polled++;
      }
    }
  }
  t.comment(`${provider}: ${polled} served specs checked under ${CRS.length} custom resources`);
});
