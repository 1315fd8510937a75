// The admin API's JSON body parser. Fastify's default parser refuses a
// "__proto__" key as "not valid JSON", which names no field; docs/api.md §3 wants
// bad input answered with the field at fault. This parser refuses the same
// keys (an own "__proto__", and "constructor" holding a "prototype") but
// says where they are. Encapsulated: it applies to the routes of the plugin
// that installs it.
import { errorCodes, type FastifyInstance } from "fastify";
import { fieldError } from "../../errors.js";
import { findPoisonedKey } from "../../domain/values.js";

export function useStrictJsonBody(app: FastifyInstance): void {
  app.addContentTypeParser("application/json", { parseAs: "string" }, (_req, body, done) => {
    const text = body as string;
    if (text.length === 0) return done(new errorCodes.FST_ERR_CTP_EMPTY_JSON_BODY(), undefined);
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      return done(new errorCodes.FST_ERR_CTP_INVALID_JSON_BODY(), undefined);
    }
    const poisoned = findPoisonedKey(parsed);
    if (poisoned !== undefined) return done(fieldError(poisoned, "is not allowed (prototype key)"), undefined);
    done(null, parsed);
  });
}
