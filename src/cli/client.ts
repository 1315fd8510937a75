// The CLI's HTTP client for the admin API (docs/api.md §3): global fetch, bearer
// token from CHARTROOM_TOKEN, JSON both ways. Two failures are told apart:
// the server answered with an error (ApiError, exit 1) and the server could
// not be reached at all (UnreachableError, exit 3).
import { UsageError } from "./args.js";

export const DEFAULT_URL = "http://127.0.0.1:8080";
const ADMIN_PREFIX = "/api/v1/admin";

/** The server answered, with an error. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
    /** Every problem of a bad input, when the server listed more than one (docs/api.md §13); the first is `field`. */
    readonly errors: { field: string; reason: string }[] = [],
  ) {
    super(message);
    this.name = "ApiError";
  }
}

/** No answer from the server (refused, DNS, timeout, TLS). */
export class UnreachableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UnreachableError";
  }
}

/** Checks a base URL: http(s), no credentials (the token goes in a header, never in a URL). */
export function parseBaseUrl(text: string): URL {
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    throw new UsageError(`CHARTROOM_URL ${JSON.stringify(text)} is not a URL (e.g. ${DEFAULT_URL})`);
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") throw new UsageError(`CHARTROOM_URL must be an http:// or https:// URL`);
  if (u.username || u.password) throw new UsageError("CHARTROOM_URL must not contain credentials; put the admin token in CHARTROOM_TOKEN");
  u.search = "";
  u.hash = "";
  return u;
}

export type Query = Record<string, string | number | undefined>;

export interface Client {
  /** The base URL, for messages. */
  readonly url: string;
  readonly hasToken: boolean;
  get(path: string, query?: Query): Promise<unknown>;
  post(path: string, body: unknown): Promise<unknown>;
  put(path: string, body: unknown): Promise<unknown>;
  /** DELETE (with a JSON body if given); resolves to undefined on 204 No Content. */
  del(path: string, body?: unknown): Promise<unknown>;
  /** GET a file (a bundle): the 2xx answer with its body unread; an error answer throws as the others do. */
  download(path: string, query?: Query): Promise<Response>;
}

function reasonOf(err: unknown): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e.name === "TimeoutError" || e.name === "AbortError") return "no answer in time";
  const cause = e.cause;
  if (cause?.code) return cause.code;
  return cause?.message ?? e.message ?? String(err);
}

export function createClient(opts: { baseUrl: string; token?: string | undefined; timeoutMs?: number }): Client {
  const base = parseBaseUrl(opts.baseUrl);
  const root = base.toString().replace(/\/+$/, "");
  const timeoutMs = opts.timeoutMs ?? 30_000;

  async function call(method: "GET" | "POST" | "PUT" | "DELETE", path: string, query: Query | undefined, body: unknown): Promise<unknown> {
    const url = new URL(`${root}${ADMIN_PREFIX}${path}`);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const headers: Record<string, string> = { accept: "application/json", "user-agent": "chartroom-cli" };
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    if (body !== undefined) headers["content-type"] = "application/json";
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers,
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        // A redirect could carry the bearer token elsewhere: refuse it.
        redirect: "manual",
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (err) {
      throw new UnreachableError(`cannot reach Chartroom at ${root}: ${reasonOf(err)}`);
    }
    return answerOf(res);
  }

  async function answerOf(res: Response): Promise<unknown> {
    let text: string;
    try {
      text = await res.text();
    } catch (err) {
      throw new UnreachableError(`the connection to Chartroom at ${root} broke: ${reasonOf(err)}`);
    }
    if (res.status >= 300 && res.status < 400) {
      throw new ApiError(res.status, "REDIRECTED", `${root} answered with a redirect (HTTP ${res.status}); set CHARTROOM_URL to the server's own address`);
    }
    let data: unknown;
    try {
      data = text === "" ? undefined : JSON.parse(text);
    } catch {
      throw new ApiError(res.status, "NOT_CHARTROOM", `HTTP ${res.status} from ${root} is not JSON; is CHARTROOM_URL a Chartroom server?`);
    }
    if (!res.ok) {
      const e = (data ?? {}) as { code?: unknown; message?: unknown; field?: unknown; errors?: unknown };
      const errors = Array.isArray(e.errors)
        ? e.errors.filter((x): x is { field: string; reason: string } => typeof x?.field === "string" && typeof x?.reason === "string").map((x) => ({ field: x.field, reason: x.reason }))
        : [];
      throw new ApiError(
        res.status,
        typeof e.code === "string" ? e.code : `HTTP_${res.status}`,
        typeof e.message === "string" ? e.message : `HTTP ${res.status} from ${root}`,
        typeof e.field === "string" ? e.field : undefined,
        errors,
      );
    }
    return data;
  }

  return {
    url: root,
    hasToken: !!opts.token,
    get: (path, query) => call("GET", path, query, undefined),
    post: (path, body) => call("POST", path, undefined, body),
    put: (path, body) => call("PUT", path, undefined, body),
    del: (path, body) => call("DELETE", path, undefined, body),
    async download(path, query) {
      const url = new URL(`${root}${ADMIN_PREFIX}${path}`);
      for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
      const headers: Record<string, string> = { accept: "application/gzip, application/json", "user-agent": "chartroom-cli" };
      if (opts.token) headers.authorization = `Bearer ${opts.token}`;
      let res: Response;
      try {
        // The answer begins once the server has fetched every chart (each request to a chart source
        // has BUNDLE_FETCH_TIMEOUT_MS, a minute by default): up to five minutes until then, no deadline for the body.
        const controller = new AbortController();
        const timer = setTimeout(() => controller.abort(new DOMException("no answer in time", "TimeoutError")), Math.max(timeoutMs, 5 * 60_000));
        try {
          res = await fetch(url, { headers, redirect: "manual", signal: controller.signal });
        } finally {
          clearTimeout(timer);
        }
      } catch (err) {
        throw new UnreachableError(`cannot reach Chartroom at ${root}: ${reasonOf(err)}`);
      }
      if (res.status >= 200 && res.status < 300) return res;
      await answerOf(res);
      throw new ApiError(res.status, `HTTP_${res.status}`, `HTTP ${res.status} from ${root}`);
    },
  };
}

/** One path segment (channel names, versions such as 1.0.0+build.1). */
export function seg(s: string): string {
  return encodeURIComponent(s);
}
