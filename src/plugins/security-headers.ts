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
