// Table test of the character rule of stored strings (src/domain/text.ts, issue #13).
import t from "tap";
import { textProblem, type TextKind } from "../../src/domain/text.js";

const table: [string, string, Record<TextKind, RegExp | null>][] = [
  ["plain ASCII", "stable 1.2.3", { stored: null, multiline: null, line: null }],
  ["non-ASCII and a surrogate pair", "Müller 😀 日本", { stored: null, multiline: null, line: null }],
  ["U+FFFD and U+2028 are characters", "a\ufffdb\u2028c", { stored: null, multiline: null, line: null }],
  ["NUL", "a\u0000b", { stored: /NUL.*U\+0000, at character 2/, multiline: /NUL/, line: /NUL/ }],
  ["lone high surrogate", "ab\ud800", { stored: /lone surrogate U\+D800 at character 3/, multiline: /lone surrogate/, line: /lone surrogate/ }],
  ["lone low surrogate", "\udc00", { stored: /U\+DC00/, multiline: /U\+DC00/, line: /U\+DC00/ }],
  ["reversed pair", "\ude00\ud83d", { stored: /U\+DE00 at character 1/, multiline: /lone/, line: /lone/ }],
  ["line feed", "a\nb", { stored: null, multiline: null, line: /one line.*U\+000A at character 2/ }],
  ["tab and CRLF", "a\tb\r\n", { stored: null, multiline: null, line: /U\+0009/ }],
  ["escape", "\u001b[31m", { stored: null, multiline: /control characters other than tab.*U\+001B/, line: /U\+001B/ }],
  ["DEL", "a\u007f", { stored: null, multiline: /U\+007F/, line: /U\+007F/ }],
  ["C1 (NEL)", "a\u0085", { stored: null, multiline: /U\+0085/, line: /U\+0085/ }],
  ["vertical tab and form feed", "\u000b\u000c", { stored: null, multiline: /U\+000B/, line: /U\+000B/ }],
  ["first problem wins", "a\nb\u0000", { stored: /NUL/, multiline: /NUL/, line: /U\+000A/ }],
];

for (const [name, s, expect] of table) {
  t.test(name, async (t) => {
    for (const kind of ["stored", "multiline", "line"] as const) {
      const want = expect[kind];
      const got = textProblem(s, kind);
      if (want === null) t.equal(got, undefined, `${kind}: allowed`);
      else t.match(got, want, `${kind}: ${String(want)}`);
    }
  });
}
