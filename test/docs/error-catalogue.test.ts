// The error page of the guide (docs/guide/errors.md) is rendered from the
// catalogue (src/errors.ts) and what each code means (src/error-docs.ts):
// every code documented, none that the server cannot answer, the page current.
import t from "tap";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ERROR_DOCS, errorCatalogue, renderErrorCatalogue } from "../../src/error-docs.js";

const PAGE = join(import.meta.dirname, "..", "..", "docs", "guide", "errors.md");

t.test("every code of src/errors.ts is documented, and only those", async (t) => {
  const catalogue = errorCatalogue();
  t.ok(Object.keys(catalogue).length >= 50, `${Object.keys(catalogue).length} codes in the catalogue`);
  t.equal(catalogue.PROMOTION_CONFLICT, 409, "codes come with their status");
  t.same(Object.keys(ERROR_DOCS).sort(), Object.keys(catalogue).sort(), "src/error-docs.ts documents exactly the catalogue's codes");
  for (const [code, d] of Object.entries(ERROR_DOCS)) {
    t.ok(d.meaning.length > 10 && d.remedy.length > 3 && d.example.length > 3, `${code}: meaning, remedy and an example`);
  }
});

t.test("docs/guide/errors.md is current (npx tsx scripts/render-error-catalogue.ts)", async (t) => {
  const page = readFileSync(PAGE, "utf8");
  t.equal(page, renderErrorCatalogue(errorCatalogue()), "the page as rendered from the code");
  for (const [code, status] of Object.entries(errorCatalogue())) {
    const section = page.slice(page.indexOf(`\n## ${status} `));
    t.match(section.slice(0, section.indexOf("\n## ", 4) === -1 ? undefined : section.indexOf("\n## ", 4)), `| \`${code}\` |`, `${code} under ${status}`);
  }
});
