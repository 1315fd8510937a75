// The web console (docs/api.md §12): static files built into dist/console
// by scripts/prepare.mjs from console/ (HTML, CSS and the TypeScript ES
// modules console/tsconfig.json compiles), served from memory with a
// strict Content-Security-Policy (src/plugins/security-headers.ts). The
// console calls the admin API with the admin token the person signs in
// with; nothing here knows the token.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { extname, join } from "node:path";
import type { FastifyInstance, FastifyReply } from "fastify";
import { CONSOLE_SECURITY_HEADERS } from "../plugins/security-headers.js";

export const CONSOLE_DIR = join(import.meta.dirname, "..", "..", "dist", "console");

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".png": "image/png",
  ".svg": "image/svg+xml",
};
/** Only flat names of known types are served: no path ever reaches the file system. */
const FILE_NAME = /^[a-z0-9][a-z0-9-]*\.(html|js|css|png|svg)$/;

interface Asset {
  body: Buffer;
  type: string;
}

export function loadConsoleAssets(dir: string = CONSOLE_DIR): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  if (!existsSync(dir)) return assets;
  for (const name of readdirSync(dir)) {
    if (!FILE_NAME.test(name)) continue;
    assets.set(name, { body: readFileSync(join(dir, name)), type: TYPES[extname(name)]! });
  }
  return assets;
}

export async function consoleRoutes(app: FastifyInstance, { dir }: { dir?: string } = {}) {
  const assets = loadConsoleAssets(dir);
  function send(reply: FastifyReply, name: string) {
    reply.headers(CONSOLE_SECURITY_HEADERS);
    const asset = assets.get(name);
    if (!asset) {
      if (name === "index.html") {
        return reply.code(503).type("text/plain; charset=utf-8").send("The console is not built: run npm run prepare-build\n");
      }
      return reply.code(404).type("text/plain; charset=utf-8").send("Not found\n");
    }
    return reply.type(asset.type).send(asset.body);
  }
  const hide = { schema: { hide: true } };
  app.get("/console", hide, async (_req, reply) => send(reply, "index.html"));
  app.get("/console/", hide, async (_req, reply) => send(reply, "index.html"));
  app.get<{ Params: { file: string } }>("/console/:file", hide, async (req, reply) => send(reply, req.params.file));
}
