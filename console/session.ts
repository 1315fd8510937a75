// The signed-in session: the admin token in sessionStorage only (never
// localStorage, never in a URL sent to the server), and what its JWT
// payload says (sub, roles, exp). The server checks the token on every
// call; these claims only decide what the page shows.
const KEY = "chartroom.adminToken";

export interface Session {
  token: string;
  sub: string;
  roles: string[];
  /** Seconds since the epoch (the token's exp). */
  exp: number;
}

/** The claims of a JWT's payload, or an error message. */
export function decodeToken(token: string): Session | string {
  const parts = token.split(".");
  if (parts.length !== 3) return "this is not a JWT (three parts separated by dots)";
  let payload: unknown;
  try {
    const b64 = parts[1]!.replace(/-/g, "+").replace(/_/g, "/");
    const bytes = Uint8Array.from(atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4)), (c) => c.charCodeAt(0));
    payload = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return "the token's payload is not base64url JSON";
  }
  const p = payload as { sub?: unknown; roles?: unknown; exp?: unknown };
  if (typeof p.sub !== "string") return "the token has no sub";
  if (typeof p.exp !== "number") return "the token has no exp";
  const roles = Array.isArray(p.roles) ? p.roles.filter((r): r is string => typeof r === "string") : [];
  return { token, sub: p.sub, roles, exp: p.exp };
}

export function expired(s: Session, now = Date.now()): boolean {
  return s.exp * 1000 <= now;
}

/** Why the session ended, when it ended by itself (its token expired). */
export function expiredMessage(s: Session): string {
  return `Signed out: your token expired at ${new Date(s.exp * 1000).toISOString().slice(0, 16).replace("T", " ")} UTC. Sign in again with a new one.`;
}

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
