// The signed-in session: the admin token in sessionStorage only (never
// localStorage, never in a URL sent to the server), and what its JWT
// payload says (sub, roles, exp). The server checks the token on every
// call; these claims only decide what the page shows.
import { decodeToken, expired, expiredMessage, type Session } from "./claims.js";
export { decodeToken, expired, expiredMessage, type Session } from "./claims.js";

const KEY = "chartroom.adminToken";

let ended: string | null = null;
/** Why currentSession last ended the session (once), or null. */
export function takeEndReason(): string | null {
  const why = ended;
  ended = null;
  return why;
}

/** The session, or null (none, unreadable or expired: then it is cleared). */
export function currentSession(): Session | null {
  const token = sessionStorage.getItem(KEY);
  if (!token) return null;
  const s = decodeToken(token);
  if (typeof s === "string" || expired(s)) {
    ended = typeof s === "string" ? `Signed out: ${s}.` : expiredMessage(s);
    signOut();
    return null;
  }
  return s;
}

export function saveToken(token: string): void {
  sessionStorage.setItem(KEY, token);
}

/** Sign-out: nothing of the session is left in this tab. */
export function signOut(): void {
  sessionStorage.clear();
}

const RANK: Record<string, number> = { viewer: 1, "release-engineer": 2, admin: 3 };
/** Whether the token holds `role` or one above it (docs/api.md §3). */
export function hasRole(s: Session, role: "viewer" | "release-engineer" | "admin"): boolean {
  return s.roles.some((r) => (RANK[r] ?? 0) >= RANK[role]!);
}

/**
 * A one-time link from `chartroom console` carries the token in the
 * fragment (#token=…), which browsers never send. It is moved to
 * sessionStorage and taken out of the address bar and the tab's history.
 */
export function takeTokenFromFragment(): string | null {
  const m = /^#token=([^&]+)/.exec(location.hash);
  if (!m) return null;
  history.replaceState(null, "", `${location.pathname}#/channels`);
  return decodeURIComponent(m[1]!);
}
