// The admin API's JSON body parser. Fastify's default parser refuses a
// "__proto__" key as "not valid JSON", which names no field; API.md §3 wants
// bad input answered with the field at fault. This parser refuses the same
// keys (an own "__proto__", and "constructor" holding a "prototype") but
// says where they are. Encapsulated: it applies to the routes of the plugin
// that installs it.
import { errorCodes, type FastifyInstance } from "fastify";
import { fieldError } from "../../errors.js";

/** The dotted path of the first prototype-poisoning key, or undefined. Iterative: no depth limit. */
export function findPoisonedKey(root: unknown): string | undefined {
  const todo: { v: unknown; path: string }[] = [{ v: root, path: "" }];
  while (todo.length) {
    const { v, path } = todo.pop()!;
    if (v === null || typeof v !== "object") continue;
    if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) todo.push({ v: v[i], path: `${path}[${i}]` });
      continue;
    }
    const own = (k: string) => Object.prototype.hasOwnProperty.call(v, k);
    if (own("__proto__")) return path ? `${path}.__proto__` : "__proto__";
    const ctor = (v as Record<string, unknown>).constructor;
    if (own("constructor") && ctor !== null && typeof ctor === "object" && Object.prototype.hasOwnProperty.call(ctor, "prototype")) {
      return path ? `${path}.constructor` : "constructor";
    }
    const keys = Object.keys(v);
    for (let i = keys.length - 1; i >= 0; i--) {
      const k = keys[i]!;
      todo.push({ v: (v as Record<string, unknown>)[k], path: path ? `${path}.${k}` : k });
    }
  }
  return undefined;
}

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
