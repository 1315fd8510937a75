// Request ids: the caller's X-Request-Id when it is a sane token (so logs
// can be joined across a load balancer), else one of ours: a random
// per-process prefix and a counter. Unique per process lifetime, cheap
// enough for every poll (a UUID per request cost ~1 % of the poll path).
import { randomBytes } from "node:crypto";

const GIVEN = /^[A-Za-z0-9._:-]{1,128}$/;
const prefix = `${randomBytes(4).toString("hex")}-`;
let seq = 0;

export function newRequestId(): string {
  return prefix + (++seq).toString(36);
}

/** The id of a request: the caller's X-Request-Id header if valid, else a new one. */
export function requestIdFor(given: string | string[] | undefined): string {
  return typeof given === "string" && GIVEN.test(given) ? given : newRequestId();
}
