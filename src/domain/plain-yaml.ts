// YAML that holds plain data only: what a declarative channel or release
// file, a release file for `chartroom release create` and a values file may
// contain (docs/api.md §5). The core (JSON-compatible) schema; one
// document; every error and every warning of the parser is an error; an
// explicit tag other than the core schema's own (!!js/function, !!binary,
// !!timestamp, !custom, …) is refused, because the `yaml` package resolves
// some of them even under the core schema (!!binary to bytes, !!timestamp to
// a Date) and keeps unknown ones as strings with only a warning; and
// aliases may expand to at most MAX_ALIAS_COUNT nodes (no alias bombs).
import { LineCounter, isAlias, parseAllDocuments, visit, type Document, type YAMLError } from "yaml";

/** How many nodes aliases may expand to in one document (the `yaml` package's maxAliasCount). */
export const MAX_ALIAS_COUNT = 100;

const PLAIN_TAGS = new Set(["str", "int", "float", "bool", "null", "map", "seq"].map((t) => `tag:yaml.org,2002:${t}`));

/** Why a text is not plain-data YAML; `line` is 1-based where the parser knows it. */
export class YamlDataError extends Error {
  constructor(
    readonly line: number | undefined,
    readonly reason: string,
  ) {
    super(line === undefined ? reason : `line ${line}: ${reason}`);
    this.name = "YamlDataError";
  }
}

/** A tag as written: !!js/function for the YAML namespace, else as is. */
function shortTag(tag: string): string {
  return tag.startsWith("tag:yaml.org,2002:") ? `!!${tag.slice("tag:yaml.org,2002:".length)}` : tag;
}

/** The first node matching `test`, with its line. */
function findNode(doc: Document, lines: LineCounter, test: (node: { tag?: string | undefined }) => boolean): { node: { tag?: string | undefined }; line: number | undefined } | undefined {
  let found: { node: { tag?: string | undefined }; line: number | undefined } | undefined;
  visit(doc, {
    Node(_key, node) {
      if (!test(node)) return undefined;
      found = { node, line: node.range ? lines.linePos(node.range[0]).line : undefined };
      return visit.BREAK;
    },
  });
  return found;
}

/**
 * A parser error or warning whole: its reason, the column, and the
 * parser's excerpt of the line with a caret under the column (the line
 * number goes first, in YamlDataError).
 */
function wholeMessage(e: YAMLError): string {
  const [head = "", ...rest] = e.message.split("\n");
  const reason = head.replace(/ at line \d+, column \d+:?$/, "");
  const col = e.linePos?.[0].col;
  const excerpt = rest.join("\n").replace(/^\n+|\s+$/g, "");
  const indented = excerpt ? `:\n${excerpt.split("\n").map((l) => `  ${l}`.trimEnd()).join("\n")}` : "";
  return `${reason}${col !== undefined ? ` at column ${col}` : ""}${indented}`;
}

/** Parses `text` as one YAML document of plain data (see the header); throws YamlDataError. */
export function parsePlainYaml(text: string): unknown {
  const lines = new LineCounter();
  const docs = parseAllDocuments(text, { schema: "core", lineCounter: lines, uniqueKeys: true, strict: true, prettyErrors: true });
  if (docs.length > 1) throw new YamlDataError(lines.linePos(docs[1]!.range[0]).line, "a second YAML document (---): a file holds one document");
  const doc = docs[0];
  if (!doc) return null;
  const message = wholeMessage;
  const error = doc.errors[0];
  if (error) throw new YamlDataError(error.linePos?.[0].line, `not valid YAML: ${message(error)}`);
  const tagged = findNode(doc, lines, (n) => n.tag !== undefined && !PLAIN_TAGS.has(n.tag));
  if (tagged) {
    throw new YamlDataError(tagged.line, `the tag ${shortTag(tagged.node.tag!)} is not allowed: only plain data (strings, numbers, booleans, null, mappings, sequences)`);
  }
  const warning = doc.warnings[0];
  if (warning) throw new YamlDataError(warning.linePos?.[0].line, message(warning));
  try {
    return doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (err) {
    if (!(err instanceof ReferenceError)) throw err;
    // "Excessive alias count" (an alias bomb), or an alias of an anchor not yet defined.
    const alias = findNode(doc, lines, (n) => isAlias(n));
    const reason = /alias count/i.test(err.message) ? `aliases expand to more than ${MAX_ALIAS_COUNT} nodes (an alias bomb?)` : err.message;
    throw new YamlDataError(alias?.line, reason);
  }
}
