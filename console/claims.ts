// An admin token's claims as the page reads them (sub, roles, exp), decoded
// without verifying (the server verifies every call), and when the session
// they open ends. No DOM: test/console/assets.test.ts runs these in Node.
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
