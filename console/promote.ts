// The channel page's "Promote" control (release-engineer; the server checks
// the role anyway): a release, an optional `from` channel (the channel's
// policy.upstream preselected), optional rollout steps, a reason; "Preview"
// sends the body with `dryRun: true` (docs/api.md §7) and shows the decision
// and the licensees affected, "Confirm promote" sends the same body for real,
// with `expectedCurrent` the release the page showed (409 PROMOTION_CONFLICT
// rather than overwriting a concurrent change).
import { api, enc, ApiError } from "./api.js";
import { h } from "./dom.js";
import { parseSteps, type Step } from "./steps.js";
import type { Channel, ChannelDetail, Page, Release } from "./types.js";

interface DryRun {
  message: string;
  decision: { action: string; from: { version: string } | null; to: { version: string } | null };
  affected: { licensees: number; byRelease: Record<string, number> };
  valuesDiff: unknown[];
}

function problem(err: unknown): string {
  return err instanceof ApiError ? `${err.code}: ${err.message}` : (err as Error).message;
}

function stepsText(steps: Step[]): string {
  return steps.map((s) => (s.bake ? `${s.percent}% (bake ${s.bake})` : `${s.percent}%`)).join(", ");
}

export function promoteControl(c: ChannelDetail, rerender: () => void): HTMLElement {
  const status = h("p", { class: "status", role: "status", "data-test": "promote-status" });
  const form = h("form", { class: "confirm", hidden: true, "data-test": "promote-form" });
  let opened = false;
  const open = async () => {
    form.hidden = false;
    if (opened) return void form.querySelector("select")?.focus();
    status.textContent = "reading releases and channels…";
    let releases: Release[];
    let channels: Channel[];
    try {
      const [rs, cs] = await Promise.all([api<Page<Release>>("GET", "/releases?limit=200"), api<{ items: Channel[] }>("GET", "/channels")]);
      releases = rs.items.filter((r) => !r.yanked);
      channels = cs.items.filter((x) => x.name !== c.name);
    } catch (err) {
      status.textContent = `cannot read releases and channels: ${problem(err)}`;
      form.hidden = true;
      return;
    }
    status.textContent = "";
    opened = true;
    const upstream = c.policy?.upstream;
    const release = h("select", { name: "release", required: true, "aria-label": "release to promote" },
      h("option", { value: "" }, "— choose a release —"),
      releases.map((r) => h("option", { value: r.version }, r.version, r.version === c.release?.version ? " (current)" : "")));
    const from = h("select", { name: "from", "aria-label": "from channel" },
      h("option", { value: "", selected: !upstream }, "— any (no from) —"),
      channels.map((x) => h("option", { value: x.name, selected: x.name === upstream }, `${x.name} (at ${x.release?.version ?? "no release"})`)));
    const steps = h("input", { name: "steps", type: "text", autocomplete: "off", "aria-label": "rollout steps", placeholder: "10:1h,50:1h,100 (empty: all at once)" });
    const reason = h("textarea", { name: "reason", required: true, rows: 2, "aria-label": `reason to promote ${c.name}`, placeholder: "why (written to the history and the audit log)" });
    const preview = h("div", { "data-test": "promote-preview", "aria-live": "polite" });
    const confirm = h("button", { type: "button", class: "primary", hidden: true }, "Confirm promote");
    let body: Record<string, unknown> | null = null;
    // Whatever changes after a preview needs a new one: the confirmation sends exactly what was previewed.
    form.addEventListener("input", () => { body = null; confirm.hidden = true; preview.replaceChildren(); });
    form.append(
      h("label", {}, `Release to promote to ${c.name} (now ${c.release?.version ?? "no release"})`, release),
      h("label", {}, upstream ? `From channel (the policy's upstream: ${upstream})` : "From channel (optional: the release must be that channel's)", from),
      h("label", {}, "Rollout steps, PERCENT[:BAKE] (optional; e.g. 10:1h,50:1h,100)", steps),
      h("label", {}, "Reason", reason),
      h("div", { class: "row" },
        h("button", { type: "submit" }, "Preview"),
        confirm,
        h("button", { type: "button", onclick: () => { form.hidden = true; } }, "Cancel")),
      preview);
    form.onsubmit = async (e) => {
      e.preventDefault();
      body = null;
      confirm.hidden = true;
      preview.replaceChildren();
      status.classList.remove("error");
      if (!release.value || !reason.value.trim()) {
        status.textContent = !release.value ? "choose a release" : "give a reason";
        (!release.value ? release : reason).focus();
        return;
      }
      const parsed = steps.value.trim() ? parseSteps(steps.value) : null;
      if (typeof parsed === "string") {
        status.textContent = parsed;
        status.classList.add("error");
        steps.focus();
        return;
      }
      const b: Record<string, unknown> = { release: release.value, expectedCurrent: c.release?.version ?? null, reason: reason.value.trim() };
      if (from.value) b.from = from.value;
      if (parsed) b.rollout = { steps: parsed };
      status.textContent = "previewing…";
      try {
        const d = await api<DryRun>("POST", `/channels/${enc(c.name)}/promote`, { ...b, dryRun: true });
        const by = Object.entries(d.affected.byRelease).map(([v, n]) => `${v}: ${n}`).join(", ");
        preview.replaceChildren(
          h("p", {}, h("strong", {}, `${d.decision.action} ${d.decision.from?.version ?? "no release"} → ${d.decision.to?.version ?? "?"}`),
            ` on ${c.name}; ${d.affected.licensees} licensee${d.affected.licensees === 1 ? "" : "s"} affected`, by ? ` (${by})` : "",
            `; ${d.valuesDiff.length} value${d.valuesDiff.length === 1 ? " changes" : "s change"}`),
          h("p", {}, parsed ? `In ${parsed.length} steps: ${stepsText(parsed)}.` : "All at once (no steps)."),
          h("p", { class: "muted" }, d.message));
        status.textContent = "";
        body = b;
        confirm.hidden = false;
        confirm.focus();
      } catch (err) {
        status.textContent = `preview refused: ${problem(err)}`;
        status.classList.add("error");
      }
    };
    confirm.onclick = async () => {
      if (!body) return;
      status.textContent = "promoting…";
      try {
        const res = await api<{ message?: string; state?: string }>("POST", `/channels/${enc(c.name)}/promote`, body);
        status.textContent = res.message ?? `rollout ${res.state ?? "started"}`;
        form.hidden = true;
        rerender();
      } catch (err) {
        status.textContent = `promote refused: ${problem(err)}`;
        status.classList.add("error");
        body = null;
        confirm.hidden = true;
      }
    };
    release.focus();
  };
  return h("div", { class: "controls", "data-test": "promote" },
    h("button", { type: "button", class: "primary", "data-control": "promote", onclick: () => void open() }, "Promote…"),
    form, status);
}
