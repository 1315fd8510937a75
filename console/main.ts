// The console's entry (index.html loads it as an ES module): sign-in,
// the header, and routing the fragment (#/channels, #/channel/NAME,
// #/releases, #/release/V, #/diff/A/B) to pages.ts, #/licensee/SUB/CHANNEL
// to licensee.ts, and #/fleet/QUERY/CURSOR, #/audit/FILTERS to more-pages.ts.
import { api, ApiError } from "./api.js";
import { h, when } from "./dom.js";
import { auditPage, fleetPage } from "./more-pages.js";
import { licenseePage } from "./licensee.js";
import { channelPage, channelsPage, diffPage, releasePage, releasesPage } from "./pages.js";
import { currentSession, decodeToken, expired, expiredMessage, saveToken, signOut, takeEndReason, takeTokenFromFragment, type Session } from "./session.js";

const root = document.getElementById("app")!;
const REFRESH_MS = 3000;
let refresh: number | undefined;
let expiry: number | undefined;

function signInPage(message?: string): void {
  document.title = "Sign in · Chartroom";
  const token = h("textarea", { id: "token", name: "token", rows: 4, required: true, autocomplete: "off", spellcheck: "false", "aria-label": "admin token" });
  const error = h("p", { class: "error", role: "alert" }, message ?? "");
  const form = h("form", { class: "card signin" },
    h("h1", {}, "Chartroom console"),
    h("label", { for: "token" }, "Paste an admin token (", h("code", {}, "chartroom token --sub you --role viewer"), "), or open the link ", h("code", {}, "chartroom console"), " prints."),
    token,
    h("button", { type: "submit", class: "primary" }, "Sign in"),
    error,
    h("p", { class: "muted" }, "The token stays in this tab (sessionStorage) until you sign out, close the tab, or it expires."));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    error.textContent = await signIn(token.value.trim());
  });
  root.replaceChildren(form);
  token.focus();
}

/** Checks the token against the server; "" when signed in, else why not. */
async function signIn(token: string): Promise<string> {
  const s = decodeToken(token);
  if (typeof s === "string") return s;
  if (expired(s)) return `this token expired ${when(new Date(s.exp * 1000).toISOString())}`;
  saveToken(token);
  try {
    await api("GET", "/channels");
  } catch (err) {
    signOut();
    return err instanceof ApiError && err.status === 401 ? `the server refused this token: ${err.message}` : (err as Error).message;
  }
  if (!location.hash.startsWith("#/")) location.hash = "#/channels";
  void render();
  return "";
}

function header(s: Session): HTMLElement {
  const link = (href: string, text: string) => h("a", { href, "aria-current": location.hash.startsWith(href) ? "page" : undefined }, text);
  return h("header", {},
    h("nav", { "aria-label": "main" }, h("strong", {}, "Chartroom"), link("#/channels", "Channels"), link("#/releases", "Releases"), link("#/fleet", "Fleet"), link("#/licensee", "Licensee"), link("#/audit", "Audit")),
    h("div", { class: "who" },
      h("span", { "data-test": "identity" }, `${s.sub} · ${s.roles.join(", ") || "no roles"}`),
      h("span", { class: "muted" }, ` · until ${when(new Date(s.exp * 1000).toISOString())} `),
      h("button", { type: "button", id: "signout", onclick: () => { signOut(); location.hash = ""; signInPage("Signed out."); } }, "Sign out")));
}

function route(s: Session): { page: () => Promise<HTMLElement>; live: boolean } {
  const raw = location.hash.replace(/^#\/?/, "").split("/");
  const parts = raw.map((p) => {
    try {
      return decodeURIComponent(p);
    } catch {
      return p;
    }
  });
  const rerender = () => void render();
  switch (parts[0]) {
    case "channel":
      return { page: () => channelPage(s, parts[1] ?? "", rerender), live: true };
    case "releases":
      return { page: releasesPage, live: false };
    case "release":
      return { page: () => releasePage(s, parts[1] ?? "", rerender), live: false };
    case "diff":
      return { page: () => diffPage(parts[1] ?? "", parts[2] ?? ""), live: false };
    case "fleet":
      return { page: () => fleetPage(parts[1] ?? "", parts[2] ?? ""), live: false };
    case "audit":
      return { page: () => auditPage(new URLSearchParams(raw[1] ?? "")), live: false };
    case "licensee":
      return { page: () => licenseePage(s, parts[1] ?? "", parts[2] ?? "", rerender), live: false };
    default:
      return { page: channelsPage, live: true };
  }
}

let rendering = 0;
async function render(): Promise<void> {
  window.clearTimeout(refresh);
  const s = currentSession();
  if (!s) return signInPage(takeEndReason() ?? undefined);
  window.clearTimeout(expiry);
  // The session ends at the token's exp, on screen too: signed out, and why.
  expiry = window.setTimeout(() => { window.clearTimeout(refresh); signOut(); signInPage(expiredMessage(s)); }, Math.min(s.exp * 1000 - Date.now(), 2 ** 31 - 1));
  const { page, live } = route(s);
  const n = ++rendering;
  let main: HTMLElement;
  try {
    main = await page();
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      signOut();
      return signInPage(`Signed out: ${err.message}`);
    }
    main = h("p", { class: "error", role: "alert" }, `${err instanceof ApiError ? `${err.code}: ` : ""}${(err as Error).message}`);
  }
  if (n !== rendering) return;
  // A page being read is not replaced under a person typing a reason or
  // with a confirmation open.
  const typing = document.activeElement instanceof HTMLTextAreaElement || document.activeElement instanceof HTMLInputElement || root.querySelector("form.confirm:not([hidden])") !== null;
  if (typing && live && root.querySelector("main")?.dataset.hash === location.hash) {
    refresh = window.setTimeout(() => void render(), REFRESH_MS);
    return;
  }
  const m = h("main", { "data-hash": location.hash }, main);
  root.replaceChildren(header(s), m);
  document.title = `${main.querySelector("h1")?.textContent ?? "Console"} · Chartroom`;
  if (live) refresh = window.setTimeout(() => void render(), REFRESH_MS);
}

const fromLink = takeTokenFromFragment();
window.addEventListener("hashchange", () => void render());
// Escape closes an open confirmation and gives the focus back to the button that opened it.
let opener: HTMLElement | null = null;
document.addEventListener("click", (e) => {
  const b = e.target instanceof Element ? e.target.closest("button[data-control]") : null;
  if (b instanceof HTMLElement) opener = b;
});
document.addEventListener("keydown", (e) => {
  if (e.key !== "Escape" || !(document.activeElement instanceof HTMLElement)) return;
  const form = document.activeElement.closest("form.confirm");
  if (!(form instanceof HTMLFormElement) || form.hidden) return;
  form.hidden = true;
  if (opener?.isConnected && form.parentElement?.contains(opener)) opener.focus();
});
if (fromLink) {
  void signIn(fromLink).then((why) => why && signInPage(why));
} else {
  void render();
}
