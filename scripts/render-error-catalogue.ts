// Writes docs/guide/errors.md from the error catalogue (src/errors.ts) and
// what each code means (src/error-docs.ts):
//   npx tsx scripts/render-error-catalogue.ts
// test/docs/error-catalogue.test.ts fails when the page is not current.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { errorCatalogue, renderErrorCatalogue } from "../src/error-docs.js";

const file = join(import.meta.dirname, "..", "docs", "guide", "errors.md");
writeFileSync(file, renderErrorCatalogue(errorCatalogue()));
console.log(`wrote ${file}`);
