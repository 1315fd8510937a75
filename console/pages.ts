// The console's pages. Each takes the signed-in session and returns the
// page's element; main.ts routes the address's fragment (#/…) to them.
import { api, enc, ApiError } from "./api.js";
import { h, when, type Child } from "./dom.js";
import { valuesDiff } from "./diff.js";
import { hasRole, type Session } from "./session.js";
import { promoteControl } from "./promote.js";
import type { Channel, ChannelDetail, Freeze, Page, Release, Rollout, RolloutSummary } from "./types.js";

const ACTIVE = new Set(["progressing", "paused", "halted"]);

function version(r: { version: string; yanked?: boolean } | null): Child {
  if (!r) return h("span", { class: "muted" }, "no release");
  return h("span", {}, h("a", { href: `#/release/${enc(r.version)}` }, r.version), r.yanked ? h("span", { class: "tag bad" }, "yanked") : null);
}

function stateTag(state: string): HTMLElement {
  return h("span", { class: `tag state-${state}`, "data-test": "rollout-state" }, state);
}

function progress(r: { percent: number; state: string }): HTMLElement {
  return h("progress", { max: 100, value: r.percent, "aria-label": `rollout at ${r.percent}%` }, `${r.percent}%`);
}

function rolloutLine(r: RolloutSummary): HTMLElement {
  return h("div", { class: "rollout" }, "→ ", r.release.version, " ", progress(r), ` ${r.percent}% · step ${r.step}/${r.steps} `, stateTag(r.state),
    r.nextStepAt ? h("span", { class: "muted" }, ` next step ${when(r.nextStepAt)}`) : null);
}

export function freezeBanner(f: Freeze): HTMLElement | null {
  if (!f.frozen) return null;
  return h("div", { class: "banner", role: "alert", "data-test": "freeze" },
    h("strong", {}, "Promotions are frozen. "), f.reason ?? "", f.by ? ` — ${f.by}` : "", f.since ? `, since ${when(f.since)}` : "", f.until ? `, until ${when(f.until)}` : "");
}

export async function channelsPage(): Promise<HTMLElement> {
  const [channels, freeze] = await Promise.all([api<{ items: Channel[] }>("GET", "/channels"), api<Freeze>("GET", "/freeze")]);
  return h("section", {},
    h("h1", {}, "Channels"),
    freezeBanner(freeze),
    h("ul", { class: "cards" }, channels.items.map((c) =>
      h("li", { class: "card", "data-test": `channel-${c.name}` },
        h("h2", {}, h("a", { href: `#/channel/${enc(c.name)}` }, c.name)),
        h("p", { class: "muted" }, c.description),
        h("p", {}, "Release: ", version(c.release)),
        c.rollout ? rolloutLine(c.rollout) : h("p", { class: "muted" }, "no rollout")))));
}

async function rolloutOf(name: string): Promise<Rollout | null> {
  try {
    return await api<Rollout>("GET", `/channels/${enc(name)}/rollout`);
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return null;
    throw err;
  }
}

const COUNTS: [keyof Rollout["counts"], string][] = [
  ["licensees", "licensees on the channel"], ["inCohort", "in the cohort"], ["servedTarget", "served the target"], ["healthy", "healthy reports"], ["failed", "failed reports"],
];

type Control = "pause" | "resume" | "advance" | "abort";
const CONTROLS: Record<string, Control[]> = { progressing: ["pause", "advance", "abort"], paused: ["resume", "advance", "abort"], halted: ["resume", "advance", "abort"] };

/** Rollout controls, each behind a reason and a confirmation; only for a release engineer (the server checks the role anyway). */
function controls(name: string, r: Rollout, rerender: () => void): HTMLElement {
  const status = h("p", { class: "status", role: "status" });
  const form = h("form", { class: "confirm", hidden: true });
  const open = (what: Control) => {
    form.replaceChildren();
    const reason = h("textarea", { name: "reason", required: true, rows: 2, "aria-label": `reason to ${what}`, placeholder: "why (written to the history and the audit log)" });
    form.append(
      h("label", {}, `Reason to ${what} the rollout of ${name} to ${r.release.version}`, reason),
      h("div", { class: "row" },
        h("button", { type: "submit", class: what === "abort" ? "danger" : "primary" }, `Confirm ${what}`),
        h("button", { type: "button", onclick: () => { form.hidden = true; } }, "Cancel")),
    );
    form.onsubmit = async (e) => {
      e.preventDefault();
      if (!reason.value.trim()) return;
      status.textContent = `${what}…`;
      try {
        const res = await api<{ message: string }>("POST", `/channels/${enc(name)}/rollout/${what}`, { reason: reason.value.trim() });
        status.textContent = res.message;
        form.hidden = true;
        rerender();
      } catch (err) {
        status.textContent = `${what} refused: ${(err as Error).message}`;
      }
    };
    form.hidden = false;
    reason.focus();
  };
  return h("div", { class: "controls", "data-test": "controls" },
    h("div", { class: "row" }, (CONTROLS[r.state] ?? []).map((c) => h("button", { type: "button", class: c === "abort" ? "danger" : "", "data-control": c, onclick: () => open(c) }, c[0]!.toUpperCase() + c.slice(1)))),
    form, status);
}

export async function channelPage(s: Session, name: string, rerender: () => void): Promise<HTMLElement> {
  const [c, r, freeze] = await Promise.all([api<ChannelDetail>("GET", `/channels/${enc(name)}`), rolloutOf(name), api<Freeze>("GET", "/freeze")]);
  const rollout = r
    ? h("section", { class: "card" },
        h("h2", {}, ACTIVE.has(r.state) ? "Rollout" : "Last rollout", " ", stateTag(r.state)),
        h("p", {}, `${r.previous?.version ?? "nothing"} → ${r.release.version} · `, progress(r), ` ${r.percent}% · step ${r.step} of ${r.steps.length}`),
        h("ol", { class: "steps" }, r.steps.map((st, i) =>
          h("li", { class: i + 1 < r.step ? "done" : i + 1 === r.step ? "current" : "" }, `${st.percent}%`, st.bake !== "0s" ? `, bake ${st.bake}` : "", st.gates?.length ? `, ${st.gates.length} gate${st.gates.length === 1 ? "" : "s"}` : ""))),
        h("dl", { class: "counts" },
          COUNTS.map(([k, label]) => h("div", {}, h("dt", {}, label), h("dd", { "data-test": `count-${k}` }, String(r.counts[k]))))),
        h("h3", {}, `Gates of step ${r.step}`),
        r.gates.length ? h("ul", { "data-test": "gates" }, r.gates.map((g) => h("li", { "data-gate-state": g.state }, `${g.kind}: `, h("span", { class: `tag state-${g.state}` }, g.state), ` ${g.detail}`, g.evaluatedAt ? h("span", { class: "muted" }, ` (${when(g.evaluatedAt)})`) : null))) : h("p", { class: "muted" }, "no gates"),
        h("p", { class: "muted" }, `Started by ${r.startedBy} ${when(r.startedAt)}`, r.reason ? ` — ${r.reason}` : "", r.nextStepAt ? `; next step ${when(r.nextStepAt)}` : "",
          r.endedAt ? `; ended ${when(r.endedAt)} by ${r.endedBy ?? "?"}${r.endReason ? ` (${r.endReason})` : ""}` : ""),
        ACTIVE.has(r.state) && hasRole(s, "release-engineer") ? controls(name, r, rerender) : null)
    : h("p", { class: "muted" }, "This channel never had a rollout.");
  // Promote (and start a rollout) while none is active: the server refuses one meanwhile (409 ROLLOUT_IN_PROGRESS).
  const promote = hasRole(s, "release-engineer") && !(r && ACTIVE.has(r.state)) ? promoteControl(c, rerender) : null;
  return h("section", {},
    h("p", {}, h("a", { href: "#/channels" }, "← Channels")),
    h("h1", {}, `Channel ${c.name}`),
    freezeBanner(freeze),
    h("p", { class: "muted" }, c.description),
    h("p", {}, "Release: ", version(c.release)),
    promote,
    rollout,
    h("h2", {}, "History"),
    h("ol", { class: "timeline" }, c.history.map((e) =>
      h("li", {}, h("time", { datetime: e.createdAt }, when(e.createdAt)), " ", h("strong", {}, e.action), ` ${e.fromVersion ?? "∅"} → ${e.toVersion ?? "∅"} by ${e.actor}`, e.reason ? h("span", { class: "muted" }, ` — ${e.reason}`) : null))));
}

export async function releasesPage(): Promise<HTMLElement> {
  const list = await api<Page<Release>>("GET", "/releases?limit=200");
  const pick = (name: string, i: number) =>
    h("select", { name, "aria-label": name === "a" ? "from release" : "to release" }, list.items.map((r, j) => h("option", { value: r.version, selected: j === i }, r.version)));
  const a = pick("a", Math.min(1, list.items.length - 1));
  const b = pick("b", 0);
  return h("section", {},
    h("h1", {}, "Releases"),
    h("form", { class: "row", "data-test": "diff-form", onsubmit: (e: Event) => { e.preventDefault(); location.hash = `#/diff/${enc(a.value)}/${enc(b.value)}`; } },
      h("label", {}, "Values diff from ", a), h("label", {}, " to ", b), h("button", { type: "submit", class: "primary" }, "Compare")),
    h("table", {},
      h("thead", {}, h("tr", {}, h("th", {}, "Version"), h("th", {}, "Chart"), h("th", {}, "Created"), h("th", {}, "Notes"))),
      h("tbody", {}, list.items.map((r) =>
        h("tr", {}, h("td", {}, version(r), r.required ? h("span", { class: "tag state-paused" }, "required") : null), h("td", {}, `${String(r.chart.name ?? "")} ${String(r.chart.version ?? "")}`), h("td", {}, when(r.createdAt), " by ", r.createdBy), h("td", {}, r.notes))))),
    list.nextCursor ? h("p", { class: "muted" }, "Showing the newest 200.") : null);
}

function json(v: unknown): HTMLElement {
  return h("pre", {}, JSON.stringify(v, null, 2));
}

/** Yank, behind a reason and a confirmation (release-engineer; docs/api.md §3). */
function yankControl(r: Release, rerender: () => void): HTMLElement {
  const status = h("p", { class: "status", role: "status" });
  const reason = h("textarea", { name: "reason", required: true, rows: 2, "aria-label": `reason to yank ${r.version}`, placeholder: "why (written to the audit log)" });
  const form = h("form", { class: "confirm", hidden: true },
    h("label", {}, `Reason to yank ${r.version} (it is never promoted or pinned again; channels serving it keep it until promoted or rolled back)`, reason),
    h("div", { class: "row" },
      h("button", { type: "submit", class: "danger" }, `Confirm yank`),
      h("button", { type: "button", onclick: () => { form.hidden = true; } }, "Cancel")));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (!reason.value.trim()) return;
    try {
      await api("POST", `/releases/${enc(r.version)}/yank`, { reason: reason.value.trim() });
      rerender();
    } catch (err) {
      status.textContent = `yank refused: ${(err as Error).message}`;
    }
  });
  return h("div", { class: "controls", "data-test": "controls" },
    h("button", { type: "button", class: "danger", "data-control": "yank", onclick: () => { form.hidden = false; reason.focus(); } }, "Yank…"), form, status);
}

/**
 * Mark or unmark a required release (a stepping stone, docs/api.md §8),
 * behind a reason and a confirmation (release-engineer). Only shown when
 * the server's release has `required`: servers without upgrade paths have
 * no such route.
 */
function requiredControl(r: Release, rerender: () => void): HTMLElement {
  const mark = !r.required;
  const what = mark ? "mark required" : "unmark required";
  const status = h("p", { class: "status", role: "status" });
  const reason = h("textarea", { name: "reason", required: true, rows: 2, "aria-label": `reason to ${what} ${r.version}`, placeholder: "why (written to the audit log)" });
  const form = h("form", { class: "confirm", hidden: true },
    h("label", {}, mark
      ? `Reason to mark ${r.version} required (installations below it on a channel pass through it on their way up)`
      : `Reason to unmark ${r.version} (installations no longer have to pass through it)`, reason),
    h("div", { class: "row" },
      h("button", { type: "submit", class: "primary" }, `Confirm ${what}`),
      h("button", { type: "button", onclick: () => { form.hidden = true; } }, "Cancel")));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (!reason.value.trim()) return;
    try {
      await api("POST", `/releases/${enc(r.version)}/required`, { required: mark, reason: reason.value.trim() });
      rerender();
    } catch (err) {
      status.textContent = `${what} refused: ${(err as Error).message}`;
    }
  });
  return h("div", { class: "controls", "data-test": "required-control" },
    h("button", { type: "button", "data-control": mark ? "require" : "unrequire", onclick: () => { form.hidden = false; reason.focus(); } }, mark ? "Mark required…" : "Unmark required…"), form, status);
}

export async function releasePage(s: Session, v: string, rerender: () => void): Promise<HTMLElement> {
  const r = await api<Release>("GET", `/releases/${enc(v)}`);
  const paths = "required" in r;
  return h("section", {},
    h("p", {}, h("a", { href: "#/releases" }, "← Releases")),
    h("h1", {}, `Release ${r.version}`, r.yanked ? h("span", { class: "tag bad" }, "yanked") : null, r.required ? h("span", { class: "tag state-paused" }, "required") : null),
    r.yanked ? h("div", { class: "banner", "data-test": "yanked" }, `Yanked ${when(r.yankedAt)} by ${r.yankedBy ?? "?"}: ${r.yankReason ?? ""}`) : null,
    r.required ? h("div", { class: "banner", "data-test": "required" }, `Required: installations below ${r.version} pass through it. `, r.requiredReason ?? "") : null,
    paths && r.upgradeFrom ? h("p", { "data-test": "upgrade-from" }, "Installs directly over ", h("code", {}, r.upgradeFrom)) : null,
    !r.yanked && hasRole(s, "release-engineer") ? yankControl(r, rerender) : null,
    paths && hasRole(s, "release-engineer") ? requiredControl(r, rerender) : null,
    h("p", {}, r.notes),
    h("p", { class: "muted" }, `Created ${when(r.createdAt)} by ${r.createdBy} · id ${r.id}`),
    h("h2", {}, "Chart"), json(r.chart),
    h("h2", {}, "Images"), json(r.images),
    h("h2", {}, "Values"), json(r.values));
}

function show(v: unknown): string {
  return v === undefined ? "" : JSON.stringify(v);
}

export async function diffPage(a: string, b: string): Promise<HTMLElement> {
  const [ra, rb] = await Promise.all([api<Release>("GET", `/releases/${enc(a)}`), api<Release>("GET", `/releases/${enc(b)}`)]);
  const changes = valuesDiff(ra.values, rb.values);
  return h("section", {},
    h("p", {}, h("a", { href: "#/releases" }, "← Releases")),
    h("h1", {}, `Values: ${ra.version} → ${rb.version}`),
    changes.length === 0
      ? h("p", { "data-test": "diff-empty" }, "The two releases have the same values.")
      : h("table", { class: "diff", "data-test": "diff" },
          h("thead", {}, h("tr", {}, h("th", {}, "Change"), h("th", {}, "Path"), h("th", {}, ra.version), h("th", {}, rb.version))),
          h("tbody", {}, changes.map((c) =>
            h("tr", { class: `op-${c.op}` }, h("td", {}, c.op), h("td", {}, h("code", {}, c.path)), h("td", {}, h("code", {}, show(c.from))), h("td", {}, h("code", {}, show(c.to))))))));
}
