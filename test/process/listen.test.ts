// Binding the port, in a child process: a port already in use is one line
// on stderr that says to set PORT (exit 1, no logged stack), and with
// development keys and HOST unset the server listens on loopback only and
// says so.
import { createServer, connect } from "node:net";
import { networkInterfaces } from "node:os";
import { setTimeout as delay } from "node:timers/promises";
import t from "tap";
import { ensureBuilt, freePort, serverFiles, sqliteEnv, startServer } from "./fixtures/child-server.js";

t.before(ensureBuilt);

t.test("a port in use: one line naming the port and PORT, exit 1", async (t) => {
  const blocker = createServer();
  await new Promise<void>((r) => blocker.listen(0, "127.0.0.1", r));
  t.teardown(() => blocker.close());
  const port = (blocker.address() as { port: number }).port;
  const server = startServer(t, sqliteEnv(serverFiles(t), port));
  const exit = await Promise.race([server.exited, delay(30_000, null, { ref: false })]);
  t.ok(exit, "the process exited");
  t.equal(exit?.code, 1, "exit code 1");
  const lines = server.stderr().split("\n").filter((l) => l.trim() !== "");
  t.equal(lines.length, 1, `stderr is one line: ${JSON.stringify(lines)}`);
  t.match(lines[0] ?? "", new RegExp(`^chartroom: port ${port} is in use \\(127\\.0\\.0\\.1:${port}\\): .*set PORT=`), "names the port and PORT");
  t.notMatch(server.lines().join("\n"), /EADDRINUSE|"stack"/, "no logged stack trace on stdout");
});

/** A non-loopback IPv4 address of this machine, if it has one. */
function externalAddress(): string | undefined {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === "IPv4" && !a.internal) return a.address;
  }
  return undefined;
}

async function connects(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host, port }, () => {
      s.destroy();
      resolve(true);
    });
    s.on("error", () => resolve(false));
  });
}

t.test("development keys and HOST unset: 127.0.0.1 only, and the log says so", async (t) => {
  const files = serverFiles(t);
  const port = await freePort();
  const env = sqliteEnv(files, port);
  // No keys configured (development keys under DATA_DIR) and no HOST.
  delete env.HOST;
  delete env.ADMIN_JWT_SECRET;
  delete env.LICENSE_SIGNING_KEY_FILE;
  const server = startServer(t, env);
  await server.ready(60_000);
  const said = server.logs().find((l) => typeof l.msg === "string" && l.msg.startsWith("development keys: listening on 127.0.0.1 only"));
  t.ok(said, "the log says it listens on loopback only, and how to change it");
  t.match(said?.msg, /set HOST=0\.0\.0\.0/);
  t.ok(await connects("127.0.0.1", port), "reachable on 127.0.0.1");
  const external = externalAddress();
  if (external === undefined) t.comment("this machine has no non-loopback IPv4 address: the refusal from another interface is not checked");
  else t.notOk(await connects(external, port), `not reachable on ${external}`);
});
