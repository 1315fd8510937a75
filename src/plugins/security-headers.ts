// Security headers for the operator path, set as one constant block. Helmet
// (registered for every other route) recomputes its policy strings on every
// request, which showed up as a tenth of the poll path's CPU in the
// profile (docs/performance.md); a JSON API needs only these.
export const API_SECURITY_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
  "strict-transport-security": "max-age=31536000; includeSubDomains",
  "x-content-type-options": "nosniff",
  "x-frame-options": "SAMEORIGIN",
  "referrer-policy": "no-referrer",
  "cross-origin-resource-policy": "same-origin",
});

// The console (/console, src/routes/console-routes.ts): its own scripts,
// styles and images only, calls to this origin only, never framed. No
// inline script or style anywhere in console/.
export const CONSOLE_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

export const CONSOLE_SECURITY_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  ...API_SECURITY_HEADERS,
  "content-security-policy": CONSOLE_CSP,
  "x-frame-options": "DENY",
  "cache-control": "no-cache",
});
