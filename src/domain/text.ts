// The one rule for the characters of a string Chartroom stores: what both
// databases can hold (PostgreSQL refuses U+0000 in text and JSON; neither
// stores a lone UTF-16 surrogate as written), and what a one-line field
// (a name, a URL, a reason) may show. Used by the zod schemas of every input
// (src/domain/schemas.ts) and by the values check (src/domain/values.ts).

/** How strict a string's characters are checked. */
export type TextKind =
  /** Helm values, keys and strings: anything a database stores (no U+0000, well-formed UTF-16). */
  | "stored"
  /** Free text (descriptions, notes): also no control characters but tab, line feed and carriage return. */
  | "multiline"
  /** Everything else (names, references, URLs, paths, reasons, identifiers): no control characters at all. */
  | "line";

// \p{Cs} with the u flag matches only a lone surrogate (a pair is one code point);
// \p{Cc} is every control character: U+0000–U+001F, U+007F–U+009F.
const FORBIDDEN: Record<TextKind, RegExp> = {
  stored: /[\0\p{Cs}]/u,
  // eslint-disable-next-line no-control-regex -- control characters are what this rule finds
  multiline: /[\p{Cs}\0-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]/u,
  line: /[\p{Cs}\p{Cc}]/u,
};

function codePoint(c: string): string {
  return `U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}`;
}

/** Why `s` may not be stored as a string of this kind, or undefined. */
export function textProblem(s: string, kind: TextKind): string | undefined {
  const m = FORBIDDEN[kind].exec(s);
  if (!m) return undefined;
  const c = m[0];
  const at = `at character ${m.index + 1}`;
  if (c === "\0") return `must not contain a NUL character (U+0000, ${at})`;
  if (/\p{Cs}/u.test(c)) return `must be well-formed Unicode (a lone surrogate ${codePoint(c)} ${at})`;
  return kind === "line"
    ? `must be one line without control characters (${codePoint(c)} ${at})`
    : `must not contain control characters other than tab and line breaks (${codePoint(c)} ${at})`;
}
