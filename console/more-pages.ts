// The fleet and the audit log (docs/api.md §3, §15): read-only pages.
import { api, enc } from "./api.js";
import { h, when } from "./dom.js";
import type { AuditEntry, Channel, Fleet, FleetEntry, Page } from "./types.js";

const PAGE = 50;

/** The fleet: the version distribution per channel, then the licensees, searched and paged in the page. */
export async function fleetPage(query: string, pageNo: number): Promise<HTMLElement> {
  const [fleet, channels] = await Promise.all([api<Fleet>("GET", "/fleet"), api<{ items: Channel[] }>("GET", "/channels")]);
  const current = new Map(channels.items.map((c) => [c.name, c.release?.version ?? null]));
  const behind = (e: FleetEntry) => e.releaseVersion !== null && current.get(e.channel) !== e.releaseVersion;
  const q = query.toLowerCase();
  const matching = fleet.items.filter((e) => !q || e.sub.toLowerCase().includes(q) || e.channel.includes(q) || (e.releaseVersion ?? "").includes(q));
  const pages = Math.max(1, Math.ceil(matching.length / PAGE));
  const p = Math.min(Math.max(pageNo, 1), pages);
  const search = h("input", { type: "search", name: "q", value: query, "aria-label": "search licensees", placeholder: "sub, channel or version" });
  const go = (n: number) => `#/fleet/${enc(search.value.trim())}/${n}`;
  return h("section", {},
    h("h1", {}, "Fleet"),
    h("div", { class: "cards" }, Object.entries(fleet.distribution).map(([channel, versions]) => {
      const total = Object.values(versions).reduce((a, b) => a + b, 0);
      return h("div", { class: "card", "data-test": `distribution-${channel}` },
        h("h2", {}, channel, h("span", { class: "muted" }, ` · ${total} licensee${total === 1 ? "" : "s"}`)),
        h("ul", { class: "bars" }, Object.entries(versions).sort(([a], [b]) => (a < b ? 1 : -1)).map(([v, n]) =>
          h("li", {}, h("span", { class: "bar-label" }, v, v === current.get(channel) ? " (current)" : ""), h("meter", { min: 0, max: total, value: n, "aria-label": `${v}: ${n} of ${total}` }), ` ${n}`))));
    })),
    h("form", { class: "row", onsubmit: (e: Event) => { e.preventDefault(); location.hash = go(1); } },
      h("label", {}, "Search ", search), h("button", { type: "submit", class: "primary" }, "Search"),
      h("span", { class: "muted" }, `${matching.length} of ${fleet.items.length} licensees`)),
    h("table", { "data-test": "fleet" },
      h("thead", {}, h("tr", {}, ["Licensee", "Channel", "Release", "Last seen", "Health", "Polls"].map((c) => h("th", {}, c)))),
      h("tbody", {}, matching.slice((p - 1) * PAGE, p * PAGE).map((e) =>
        h("tr", {},
          h("td", {}, e.anonymous ? e.sub : h("a", { href: `#/licensee/${enc(e.sub)}/${enc(e.channel)}` }, e.sub), e.licenseRevoked ? h("span", { class: "tag bad" }, "revoked") : null, e.licenseExpired ? h("span", { class: "tag bad" }, "expired") : null),
          h("td", {}, e.channel),
          h("td", {}, e.releaseVersion ?? "—", behind(e) ? h("span", { class: "tag state-paused", title: "not the channel's current release" }, "not current") : null),
          h("td", {}, when(e.lastSeenAt)),
          h("td", {}, e.report ? h("span", { class: `tag state-${e.report.state}`, title: e.report.message ?? "" }, e.report.state) : h("span", { class: "muted" }, "no report")),
          h("td", {}, String(e.pollCount)))))),
    pages > 1
      ? h("nav", { class: "row", "aria-label": "pages" },
          p > 1 ? h("a", { href: go(p - 1) }, "← Previous") : null, ` page ${p} of ${pages} `, p < pages ? h("a", { href: go(p + 1) }, "Next →") : null)
      : null);
}

/** The audit log: the server's filters (target type, target, action) and its cursor; actor filtered within the page. */
export async function auditPage(params: URLSearchParams): Promise<HTMLElement> {
  const q = new URLSearchParams();
  for (const k of ["targetType", "target", "action", "cursor"]) if (params.get(k)) q.set(k, params.get(k)!);
  q.set("limit", "100");
  const list = await api<Page<AuditEntry>>("GET", `/audit?${q.toString()}`);
  const actor = params.get("actor") ?? "";
  const items = actor ? list.items.filter((e) => e.actor.includes(actor)) : list.items;
  const field = (name: string, label: string) => h("label", {}, `${label} `, h("input", { name, value: params.get(name) ?? "", "aria-label": label }));
  const form = h("form", { class: "row" }, field("actor", "actor"), field("action", "action"), field("targetType", "target type"), field("target", "target"), h("button", { type: "submit", class: "primary" }, "Filter"));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const next = new URLSearchParams();
    for (const input of form.querySelectorAll("input")) if (input.value.trim()) next.set(input.name, input.value.trim());
    location.hash = `#/audit/${next.toString()}`;
  });
  const more = new URLSearchParams(params);
  if (list.nextCursor) more.set("cursor", list.nextCursor);
  return h("section", {},
    h("h1", {}, "Audit log"),
    form,
    h("table", { "data-test": "audit" },
      h("thead", {}, h("tr", {}, ["Time", "Actor", "Action", "Target", "Request"].map((c) => h("th", {}, c)))),
      h("tbody", {}, items.map((e) =>
        h("tr", {}, h("td", {}, when(e.createdAt)), h("td", {}, e.actor), h("td", {}, e.action), h("td", {}, `${e.targetType} ${e.target}`), h("td", {}, h("code", {}, e.requestId ?? "")))))),
    list.nextCursor ? h("p", {}, h("a", { href: `#/audit/${more.toString()}` }, "Older →")) : null);
}
