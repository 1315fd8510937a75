// A TCP proxy in its own process, in front of a real server (PostgreSQL,
// Redis), that a test can freeze with SIGSTOP: connections stay open but
// nothing is forwarded or answered, as when a server hangs or a network
// path black-holes packets. SIGCONT thaws it and traffic flows again. The
// in-process proxy in test/helpers/tcp-proxy.ts only cuts connections (an
// outage that is refused at once), which is the easier fault.
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";

export interface FreezableProxy {
  port: number;
  /** SIGSTOP: every connection, open or new, hangs without an answer. */
  freeze(): void;
  /** SIGCONT: forwarding resumes (connections opened while frozen complete). */
  thaw(): void;
  close(): Promise<void>;
}

// The child: a plain pipe per connection; prints its port once listening.
const CHILD = `
const net = require("node:net");
const [host, port] = [process.argv[1], Number(process.argv[2])];
const server = net.createServer((client) => {
  const upstream = net.connect(port, host);
  for (const s of [client, upstream]) s.on("error", () => {});
  client.pipe(upstream).pipe(client);
  client.on("close", () => upstream.destroy());
  upstream.on("close", () => client.destroy());
});
server.listen(0, "127.0.0.1", () => console.log(server.address().port));
process.on("disconnect", () => process.exit(0));
`;

export async function freezableProxy(target: { host: string; port: number }): Promise<FreezableProxy> {
  const child: ChildProcess = spawn(process.execPath, ["-e", CHILD, target.host, String(target.port)], {
    stdio: ["ignore", "pipe", "inherit", "ipc"],
  });
  const [line] = (await Promise.race([
    once(child.stdout!, "data"),
    once(child, "exit").then(() => {
      throw new Error("the proxy process exited before listening");
    }),
  ])) as [Buffer];
  const port = Number(String(line).trim());
  let closed = false;
  return {
    port,
    freeze: () => void child.kill("SIGSTOP"),
    thaw: () => void child.kill("SIGCONT"),
    async close() {
      if (closed) return;
      closed = true;
      child.kill("SIGCONT");
      const exited = once(child, "exit");
      child.kill("SIGKILL");
      await exited;
    },
  };
}
