// The reporter's Kubernetes files (deploy/reporter/kustomization.yaml and
// deploy/reporter/manifests/) cannot be applied here (no cluster, no
// kustomize), so these tests read them: every file parses, the kustomization
// ships every manifest and the program, the CronJob runs the program as the
// contract says, and the Role grants nothing beyond get/list on the
// WeightsAndBiases resources and get on the Secrets it names. The group and
// plural are the operator's (wandb/operator:config/crd/bases/apps.wandb.com_weightsandbiases.yaml:
// group apps.wandb.com, plural weightsandbiases, namespaced).
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import t from "tap";
import YAML from "yaml";

const root = fileURLToPath(new URL("../../", import.meta.url));
const DIR = "deploy/reporter";
const read = (rel: string): string => readFileSync(join(root, DIR, rel), "utf8");

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
const obj = (o: unknown, key: string): Obj => (isObj(o) && isObj(o[key]) ? (o[key] as Obj) : {});
const arr = (o: unknown, key: string): unknown[] => (isObj(o) && Array.isArray(o[key]) ? (o[key] as unknown[]) : []);

const manifestFiles = readdirSync(join(root, DIR, "manifests")).filter((f) => /\.ya?ml$/.test(f)).sort();
/** Every document of every manifest, parsed; a YAML error fails its test. */
const docs: { file: string; doc: Obj }[] = [];
const kustomization: Obj = YAML.parse(read("kustomization.yaml"));
const byKind = (kind: string): Obj[] => docs.filter((d) => d.doc.kind === kind).map((d) => d.doc);

t.test("every file parses as YAML, one Kubernetes object a document", async (t) => {
  t.ok(manifestFiles.length >= 4, `${manifestFiles.length} manifests`);
  for (const file of ["kustomization.yaml", ...manifestFiles.map((f) => `manifests/${f}`)]) {
    const parsed = YAML.parseAllDocuments(read(file));
    for (const d of parsed) {
      t.same(d.errors.map((e) => e.message), [], `${file} parses`);
      const doc = d.toJS() as unknown;
      t.ok(isObj(doc) && typeof doc.apiVersion === "string" && typeof doc.kind === "string", `${file}: apiVersion and kind`);
      if (file !== "kustomization.yaml" && isObj(doc)) docs.push({ file, doc });
    }
  }
  t.same(docs.map((d) => d.doc.kind).sort(), ["CronJob", "Role", "RoleBinding", "ServiceAccount"], "one CronJob, Role, RoleBinding and ServiceAccount");
  t.same(byKind("ClusterRole").concat(byKind("ClusterRoleBinding")), [], "nothing cluster-wide");
  for (const { file, doc } of docs) t.equal(obj(doc, "metadata").namespace, undefined, `${file}: the namespace comes from the kustomization`);
});

t.test("the kustomization ships every manifest and the program", async (t) => {
  t.equal(kustomization.kind, "Kustomization");
  t.type(kustomization.namespace, "string", "a namespace (the WeightsAndBiases resource's)");
  t.same(arr(kustomization, "resources").map(String).sort(), manifestFiles.map((f) => `manifests/${f}`), "every manifest, and only those");
  const generators = arr(kustomization, "configMapGenerator").filter(isObj);
  const script = generators.find((g) => g.name === "chartroom-reporter-script");
  t.same(arr(script, "files"), ["report.mjs"], "the script ConfigMap is made from report.mjs itself (no copy to drift)");
  const settings = generators.find((g) => g.name === "chartroom-reporter-settings");
  t.ok(settings, "a settings ConfigMap");
});

const settings = Object.fromEntries(
  arr(
    arr(kustomization, "configMapGenerator").find((g) => isObj(g) && g.name === "chartroom-reporter-settings"),
    "literals",
  ).map((l) => {
    const s = String(l);
    return [s.slice(0, s.indexOf("=")), s.slice(s.indexOf("=") + 1)];
  }),
);
const program = read("report.mjs");
/** The environment variables report.mjs reads (env.NAME). */
const READS = new Set([...program.matchAll(/\benv\.([A-Z][A-Z0-9_]*)/g)].map((m) => m[1]));

t.test("the Role: get/list on the WeightsAndBiases resources, get on named Secrets, nothing else", async (t) => {
  const roles = byKind("Role");
  t.equal(roles.length, 1, "one Role");
  const rules = arr(roles[0], "rules").filter(isObj);
  t.equal(rules.length, 2, "two rules");
  const verbsAllowed = new Set(["get", "list"]);
  for (const r of rules) {
    for (const field of ["apiGroups", "resources", "verbs", "resourceNames"]) {
      t.notOk(arr(r, field).includes("*"), `no wildcard in ${field}`);
    }
    t.same(arr(r, "verbs").filter((v) => !verbsAllowed.has(String(v))), [], "no verb but get and list");
    t.equal(r.nonResourceURLs, undefined, "no non-resource URLs");
  }
  const cr = rules.find((r) => arr(r, "apiGroups").includes("apps.wandb.com"));
  t.same(arr(cr, "apiGroups"), ["apps.wandb.com"], "the operator's group only");
  t.same(arr(cr, "resources"), ["weightsandbiases"], "its plural, not weightsandbiases/status or any other resource");
  t.same(arr(cr, "verbs").map(String).sort(), ["get", "list"], "get and list (list finds the only one when WANDB_NAME is empty)");

  const secrets = rules.find((r) => arr(r, "resources").includes("secrets"));
  t.same(arr(secrets, "apiGroups"), [""], "core group");
  t.same(arr(secrets, "resources"), ["secrets"], "Secrets only");
  t.same(arr(secrets, "verbs"), ["get"], "get only: a list would show every Secret of the namespace");
  const names = arr(secrets, "resourceNames").map(String).sort();
  const wandb = settings.WANDB_NAME || "wandb";
  t.same(names, [settings.LICENSE_SECRET_NAME, `${wandb}-latest-cached-release`, `${wandb}-spec-active`].sort(), "the license Secret of the settings and the operator's two spec Secrets, by name");
  t.same(rules.filter((r) => r !== cr && r !== secrets), [], "no third rule");

  const binding = byKind("RoleBinding")[0];
  t.same(obj(binding, "roleRef"), { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: obj(roles[0], "metadata").name }, "the RoleBinding binds that Role");
  const sa = byKind("ServiceAccount")[0];
  t.same(arr(binding, "subjects"), [{ kind: "ServiceAccount", name: obj(sa, "metadata").name }], "to the reporter's ServiceAccount only");
});

t.test("the CronJob runs the program every 5 minutes, never two at once", async (t) => {
  const cron = byKind("CronJob")[0];
  const spec = obj(cron, "spec");
  t.equal(cron?.apiVersion, "batch/v1");
  t.equal(spec.schedule, "*/5 * * * *", "every 5 minutes");
  t.equal(spec.concurrencyPolicy, "Forbid", "concurrencyPolicy Forbid");
  const job = obj(obj(spec, "jobTemplate"), "spec");
  t.equal(job.backoffLimit, 0, "a failed run is not rerun by the Job (the program retries once; the next run comes)");
  t.ok(Number(job.activeDeadlineSeconds) > 0 && Number(job.activeDeadlineSeconds) < 300, "a run ends before the next is due");
  const pod = obj(obj(job, "template"), "spec");
  t.equal(pod.serviceAccountName, obj(byKind("ServiceAccount")[0], "metadata").name, "as the reporter's ServiceAccount");
  t.equal(pod.automountServiceAccountToken, true, "with its token mounted (the ServiceAccount mounts it nowhere else)");
  t.equal(byKind("ServiceAccount")[0]?.automountServiceAccountToken, false);
  t.equal(pod.restartPolicy, "Never");
  t.equal(obj(pod, "securityContext").runAsNonRoot, true, "not as root");
  t.equal(obj(pod, "securityContext").runAsUser, 1000, "as node:20-alpine's node user");

  const containers = arr(pod, "containers").filter(isObj);
  t.equal(containers.length, 1, "one container");
  const c = containers[0] ?? {};
  t.match(String(c.image), /^node:20-alpine(@sha256:[0-9a-f]{64})?$/, "node:20-alpine, nothing to build");
  const sc = obj(c, "securityContext");
  t.equal(sc.readOnlyRootFilesystem, true, "read-only root filesystem");
  t.equal(sc.allowPrivilegeEscalation, false);
  t.same(arr(obj(sc, "capabilities"), "drop"), ["ALL"], "no capabilities");
  t.ok(obj(obj(c, "resources"), "limits").memory, "a memory limit");

  const volume = arr(pod, "volumes").filter(isObj).find((v) => obj(v, "configMap").name === "chartroom-reporter-script");
  t.ok(volume, "the script ConfigMap is a volume");
  const mount = arr(c, "volumeMounts").filter(isObj).find((m) => m.name === volume?.name);
  t.equal(mount?.readOnly, true, "mounted read-only");
  t.same(c.command, ["node", `${String(mount?.mountPath)}/report.mjs`], "node runs report.mjs from the mount");

  t.same(arr(c, "envFrom"), [{ configMapRef: { name: "chartroom-reporter-settings" } }], "the settings as its environment");
  const names = [...Object.keys(settings), ...arr(c, "env").filter(isObj).map((e) => String(e.name))];
  t.ok(names.includes("CHARTROOM_URL"), "CHARTROOM_URL set");
  t.same(names.filter((n) => !READS.has(n)), [], "only variables report.mjs reads");
});

t.test("the program needs nothing beyond Node's standard library", async (t) => {
  const imports = [...program.matchAll(/^\s*import\s[^"']*["']([^"']+)["']/gm)].map((m) => m[1] ?? "");
  t.ok(imports.length > 0, "it imports");
  t.same(imports.filter((i) => !i.startsWith("node:")), [], "only node: modules");
  t.notMatch(program, /\brequire\(|\bimport\(/, "and loads nothing else at run time");
  t.match(program.split("\n")[0] ?? "", /^#!\/usr\/bin\/env node$/, "runnable as a program");
});
