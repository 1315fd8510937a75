// A licensee (docs/api.md §3, §7, §9): what it gets and why (/resolve),
// its fleet entry (GET /fleet/:sub, one row, never the whole fleet), its
// last health reports, its per-license values, its licenses; for an admin,
// issue and revoke, each behind a reason and a confirmation.
import { api, enc, ApiError } from "./api.js";
import { h, when, type Child } from "./dom.js";
import { hasRole, type Session } from "./session.js";
import type { Channel, FleetEntry, License, Report, Resolved } from "./types.js";

/** The answer, or null when the server says 404 (no fleet entry, no per-license values). */
async function orNull<T>(p: Promise<T>): Promise<T | null> {
  try {
    return await p;
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return null;
    throw err;
  }
}

/**
 * A button that opens a form with `fields`, a reason and Confirm / Cancel;
 * `run` gets the reason and what the fields hold, and answers what to say.
 */
function confirmed(label: string, control: string, danger: boolean, prompt: string, fields: HTMLElement[], run: (reason: string) => Promise<Child>): HTMLElement {
  const status = h("div", { class: "status", role: "status" });
  const reason = h("textarea", { name: "reason", required: true, rows: 2, "aria-label": `reason: ${prompt}`, placeholder: "why (written to the audit log)" });
  const form = h("form", { class: "confirm", hidden: true },
    fields,
    h("label", {}, `Reason: ${prompt}`, reason),
    h("div", { class: "row" },
      h("button", { type: "submit", class: danger ? "danger" : "primary" }, `Confirm ${control}`),
      h("button", { type: "button", onclick: () => { form.hidden = true; } }, "Cancel")));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (!reason.value.trim()) return reason.focus();
    status.textContent = `${control}…`;
    try {
      status.replaceChildren(h("span", {}, await run(reason.value.trim())));
      form.hidden = true;
    } catch (err) {
      status.textContent = `${control} refused: ${(err as Error).message}`;
    }
  });
  return h("div", { class: "controls", "data-test": "controls" },
    h("button", { type: "button", class: danger ? "danger" : "", "data-control": control, onclick: () => { form.hidden = false; reason.focus(); } }, label),
    form, status);
}

function licenseState(l: { revoked: boolean; expired: boolean }): HTMLElement {
  return l.revoked ? h("span", { class: "tag bad" }, "revoked") : l.expired ? h("span", { class: "tag bad" }, "expired") : h("span", { class: "tag state-passed" }, "valid");
}

function revokeControl(jti: string, rerender: () => void): HTMLElement {
  return confirmed("Revoke…", "revoke", true, `revoke license ${jti} (every replica refuses it within seconds)`, [], async (reason) => {
    await api("POST", `/licenses/${enc(jti)}/revoke`, { reason });
    rerender();
    return "revoked";
  });
}

function issueControl(sub: string, channels: Channel[], channel: string, rerender: () => void): HTMLElement {
  const pick = h("select", { name: "issue-channel", "aria-label": "channel of the new license" }, channels.map((c) => h("option", { value: c.name, selected: c.name === channel }, c.name)));
  const expires = h("input", { type: "date", name: "expires", "aria-label": "expires on (default: in one year)" });
  return confirmed("Issue a license…", "issue", false, `issue a license to ${sub} (kept as its notes)`,
    [h("label", {}, "Channel ", pick), h("label", {}, "Expires on (UTC; empty: in one year) ", expires)],
    async (reason) => {
      const body: Record<string, string> = { sub, channel: pick.value, notes: reason };
      if (expires.value) body.expiresAt = `${expires.value}T00:00:00Z`;
      const issued = await api<License & { token: string }>("POST", "/licenses", body);
      const token = h("textarea", { readonly: true, rows: 4, "aria-label": "the new license token", "data-test": "issued-token" });
      token.value = issued.token;
      return [
        h("p", {}, `Issued ${issued.jti} on ${issued.channel ?? "?"}, expiring ${when(issued.expiresAt)}. Copy the token now: it is shown this once.`),
        token,
        h("button", { type: "button", onclick: rerender }, "Done"),
      ];
    });
}

export async function licenseePage(s: Session, sub: string, channel: string, rerender: () => void): Promise<HTMLElement> {
  const channels = await api<{ items: Channel[] }>("GET", "/channels");
  const subInput = h("input", { name: "sub", value: sub, required: true, "aria-label": "licensee (sub)", placeholder: "licensee sub, e.g. acme" });
  const channelSelect = h("select", { name: "channel", "aria-label": "channel" },
    h("option", { value: "" }, "(default channel)"),
    channels.items.map((c) => h("option", { value: c.name, selected: c.name === channel }, c.name)));
  const form = h("form", { class: "row", onsubmit: (e: Event) => { e.preventDefault(); location.hash = `#/licensee/${enc(subInput.value.trim())}/${enc(channelSelect.value)}`; } },
    h("label", {}, "Licensee ", subInput), h("label", {}, " on ", channelSelect), h("button", { type: "submit", class: "primary" }, "What does it get?"));
  if (!sub) return h("section", {}, h("h1", {}, "A licensee"), form);
  const q = `sub=${enc(sub)}${channel ? `&channel=${enc(channel)}` : ""}`;
  const [resolved, seen, reports, override, licenses] = await Promise.all([
    api<Resolved>("GET", `/resolve?${q}`).catch((err: unknown) => err as Error),
    orNull(api<FleetEntry>("GET", `/fleet/${enc(sub)}`)),
    api<{ items: Report[] }>("GET", `/fleet/${enc(sub)}/reports`),
    orNull(api<{ values: Record<string, unknown> }>("GET", `/licenses/${enc(sub)}/values`)),
    api<{ items: License[] }>("GET", `/licenses?sub=${enc(sub)}`),
  ]);
  const admin = hasRole(s, "admin");
  // The license the licensee last polled with, when it was not issued here.
  const elsewhere = seen?.jti && !licenses.items.some((l) => l.jti === seen.jti) ? seen.jti : null;
  return h("section", {},
    h("h1", {}, "A licensee"),
    form,
    resolved instanceof Error
      ? h("p", { class: "error", role: "alert" }, resolved.message)
      : h("section", { class: "card", "data-test": "resolved" },
          h("h2", {}, `${resolved.sub} on ${resolved.channel} gets `, h("a", { href: `#/release/${enc(resolved.release.version)}` }, resolved.release.version)),
          h("p", {}, "ETag ", h("code", {}, resolved.etag)),
          resolved.path
            ? h("p", { "data-test": "path" }, "Upgrade path (", resolved.path.state, "): ", h("code", {}, resolved.path.text))
            : null,
          h("h3", {}, "Why"),
          h("ol", { class: "reasons" }, resolved.reasons.map((x) => h("li", {}, h("strong", {}, x.rule), ": ", x.detail)))),
    h("section", { class: "card", "data-test": "licensee-fleet" },
      h("h2", {}, "In the fleet"),
      seen
        ? h("p", {}, `On ${seen.channel}, last served ${seen.releaseVersion ?? "—"}, last seen ${when(seen.lastSeenAt)}, ${seen.pollCount} poll${seen.pollCount === 1 ? "" : "s"}. `,
            seen.licenseRevoked ? h("span", { class: "tag bad" }, "license revoked") : null, seen.licenseExpired ? h("span", { class: "tag bad" }, "license expired") : null,
            seen.report ? h("span", {}, " Newest health report: ", h("span", { class: `tag state-${seen.report.state}` }, seen.report.state), ` on ${seen.report.releaseVersion ?? "?"} ${when(seen.report.reportedAt)}${seen.report.message ? ` — ${seen.report.message}` : ""}`) : " No health report.")
        : h("p", { class: "muted" }, `${sub} has not polled yet (a first poll is written within a minute).`)),
    h("section", { class: "card", "data-test": "licensee-reports" },
      h("h2", {}, "Health reports"),
      reports.items.length === 0
        ? h("p", { class: "muted" }, "none yet")
        : h("table", {},
            h("thead", {}, h("tr", {}, ["Time", "Release", "State", "Message"].map((c) => h("th", {}, c)))),
            h("tbody", {}, reports.items.map((r) =>
              h("tr", {}, h("td", {}, when(r.reportedAt)), h("td", {}, r.releaseVersion ?? r.releaseId), h("td", {}, h("span", { class: `tag state-${r.state}` }, r.state)), h("td", {}, r.message ?? "")))))),
    h("section", { class: "card", "data-test": "licensee-overrides" },
      h("h2", {}, "Per-license values"),
      override && Object.keys(override.values).length > 0 ? h("pre", {}, JSON.stringify(override.values, null, 2)) : h("p", { class: "muted" }, "none: it gets the channel's values")),
    h("section", { class: "card", "data-test": "licensee-licenses" },
      h("h2", {}, "Licenses"),
      licenses.items.length === 0 && !elsewhere
        ? h("p", { class: "muted" }, "none issued here")
        : h("table", {},
            h("thead", {}, h("tr", {}, ["License (jti)", "Channel", "Issued", "Expires", "State", "Notes"].map((c) => h("th", {}, c)))),
            h("tbody", {},
              licenses.items.map((l) =>
                h("tr", { "data-jti": l.jti },
                  h("td", {}, h("code", {}, l.jti)), h("td", {}, l.channel ?? "—"), h("td", {}, when(l.issuedAt), l.issuedBy ? ` by ${l.issuedBy}` : ""), h("td", {}, when(l.expiresAt)),
                  h("td", {}, licenseState(l), l.revoked ? h("span", { class: "muted" }, ` ${when(l.revokedAt)} by ${l.revokedBy ?? "?"}: ${l.revokeReason ?? ""}`) : null),
                  h("td", {}, l.notes, admin && !l.revoked ? revokeControl(l.jti, rerender) : null))),
              elsewhere
                ? h("tr", { "data-jti": elsewhere },
                    h("td", {}, h("code", {}, elsewhere)), h("td", { colspan: 4, class: "muted" }, "the license it last polled with, not issued here"),
                    h("td", {}, seen?.licenseRevoked ? h("span", { class: "tag bad" }, "revoked") : admin ? revokeControl(elsewhere, rerender) : null))
                : null)),
      admin ? issueControl(sub, channels.items, resolved instanceof Error ? channel : resolved.channel, rerender) : null));
}
