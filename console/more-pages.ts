// The fleet and the audit log (docs/api.md §3, §15): read-only pages.
import { api, enc } from "./api.js";
import { h, when } from "./dom.js";
import type { AuditEntry, Channel, Fleet, FleetEntry, Page } from "./types.js";

const PAGE = 50;

/**
 * The fleet: the version distribution per channel, then one page of
 * licensees by sub, searched by the server (GET /fleet?q=&limit=&cursor=,
 * docs/api.md §3); the address is #/fleet/QUERY/CURSOR.
 */
export async function fleetPage(query: string, cursor: string): Promise<HTMLElement> {
  const q = new URLSearchParams({ limit: String(PAGE) });
  if (query) q.set("q", query);
  if (cursor) q.set("cursor", cursor);
  const [fleet, channels] = await Promise.all([api<Fleet>("GET", `/fleet?${q.toString()}`), api<{ items: Channel[] }>("GET", "/channels")]);
  const current = new Map(channels.items.map((c) => [c.name, c.release?.version ?? null]));
  const behind = (e: FleetEntry) => e.releaseVersion !== null && current.get(e.channel) !== e.releaseVersion;
  // The distribution counts every licensee the search matches, not the page.
  const matching = Object.values(fleet.distribution).reduce((a, versions) => a + Object.values(versions).reduce((b, n) => b + n, 0), 0);
  const search = h("input", { type: "search", name: "q", value: query, "aria-label": "search licensees", placeholder: "part of a licensee's sub" });
  const go = (next: string) => `#/fleet/${enc(search.value.trim())}/${next}`;
  return h("section", {},
    h("h1", {}, "Fleet"),
    h("div", { class: "cards" }, Object.entries(fleet.distribution).map(([channel, versions]) => {
      const total = Object.values(versions).reduce((a, b) => a + b, 0);
      return h("div", { class: "card", "data-test": `distribution-${channel}` },
        h("h2", {}, channel, h("span", { class: "muted" }, ` · ${total} licensee${total === 1 ? "" : "s"}`)),
        h("ul", { class: "bars" }, Object.entries(versions).sort(([a], [b]) => (a < b ? 1 : -1)).map(([v, n]) =>
          h("li", {}, h("span", { class: "bar-label" }, v, v === current.get(channel) ? " (current)" : ""), h("meter", { min: 0, max: total, value: n, "aria-label": `${v}: ${n} of ${total}` }), ` ${n}`))));
    })),
    h("form", { class: "row", onsubmit: (e: Event) => { e.preventDefault(); location.hash = go(""); } },
      h("label", {}, "Search ", search), h("button", { type: "submit", class: "primary" }, "Search"),
      h("span", { class: "muted", "data-test": "fleet-count" }, `${matching} licensee${matching === 1 ? "" : "s"}${query ? " match" : ""}`)),
    h("table", { "data-test": "fleet" },
      h("thead", {}, h("tr", {}, ["Licensee", "Channel", "Release", "Last seen", "Health", "Polls"].map((c) => h("th", {}, c)))),
      h("tbody", {}, fleet.items.map((e) =>
        h("tr", {},
          h("td", {}, e.anonymous ? e.sub : h("a", { href: `#/licensee/${enc(e.sub)}/${enc(e.channel)}` }, e.sub), e.licenseRevoked ? h("span", { class: "tag bad" }, "revoked") : null, e.licenseExpired ? h("span", { class: "tag bad" }, "expired") : null),
          h("td", {}, e.channel),
          h("td", {}, e.releaseVersion ?? "—", behind(e) ? h("span", { class: "tag state-paused", title: "not the channel's current release" }, "not current") : null,
            // On an upgrade path (docs/api.md §8): a stepping stone, or stuck with none.
            e.path?.state === "stepping-stone" ? h("span", { class: "tag state-progressing", title: e.path.text, "data-test": "path" }, "stepping stone") : null,
            e.path?.state === "no-upgrade-path" ? h("span", { class: "tag bad", title: e.path.text, "data-test": "path" }, "no upgrade path") : null),
          h("td", {}, when(e.lastSeenAt)),
          h("td", {}, e.report ? h("span", { class: `tag state-${e.report.state}`, title: e.report.message ?? "" }, e.report.state) : h("span", { class: "muted" }, "no report")),
          h("td", {}, String(e.pollCount)))))),
    cursor || fleet.nextCursor
      ? h("nav", { class: "row", "aria-label": "pages" },
          cursor ? h("a", { href: go("") }, "← First page") : null, " ", fleet.nextCursor ? h("a", { href: go(fleet.nextCursor) }, "Next page →") : null)
      : null);
}

/** The audit log: the server's filters (actor, action, target type, target, since, until; docs/api.md §15) and its cursor. */
export async function auditPage(params: URLSearchParams): Promise<HTMLElement> {
  const q = new URLSearchParams();
  for (const k of ["actor", "targetType", "target", "action", "since", "until", "cursor"]) if (params.get(k)) q.set(k, params.get(k)!);
  q.set("limit", "100");
  const list = await api<Page<AuditEntry>>("GET", `/audit?${q.toString()}`);
  const items = list.items;
  const field = (name: string, label: string, placeholder = "") => h("label", {}, `${label} `, h("input", { name, value: params.get(name) ?? "", "aria-label": label, placeholder }));
  const form = h("form", { class: "row" },
    field("actor", "actor", "exact"), field("action", "action"), field("targetType", "target type"), field("target", "target"),
    field("since", "since", "2026-01-31T00:00:00Z"), field("until", "until", "ISO date-time"), h("button", { type: "submit", class: "primary" }, "Filter"));
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
