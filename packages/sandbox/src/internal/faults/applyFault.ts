/**
 * Helpers that apply a wire-level fault to a node:http response. Shared by every emulator.
 *
 * The rule that keeps the ground truth safe: decide faults BEFORE touching any state. A faulted
 * request must change nothing server-side (no token rotation, no cursor bookkeeping, no counters
 * other than the fault count), so a client that retries gets correct data.
 *
 * Typical use in a handler (`api` is "shopify" | "lightspeed" | "stocky"):
 *
 *   if (await preResponseFaults(ctx.faults, "lightspeed", res)) return   // connection reset / slow
 *   ... compute the body (without side effects) ...
 *   sendJson(res, 200, body, headers, pickBodyFault(ctx.faults, "lightspeed"))
 *
 * API-specific faults (5xx, 429, THROTTLED, early token expiry, bulk failure) have API-specific
 * shapes, so each emulator renders those itself after `faults.decide(api, kind)`.
 */
import type { ServerResponse } from "node:http"
import type { FaultInjector, SandboxApi } from "../contracts.js"

/** A fault that corrupts the response body. */
export type BodyFault = "truncated_body" | "malformed_json"

/** How long a `slow_response` stalls, in real ms (not scaled: clients time out in real time). */
export const SLOW_RESPONSE_MS = 1500

/** Resolves after `ms` real milliseconds. */
export const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)))

/**
 * Drops the connection without a response. Sends a TCP RST where the platform allows it, so the
 * client sees ECONNRESET ("socket hang up" otherwise).
 */
export const resetConnection = (res: ServerResponse): void => {
  const socket = res.socket
  if (socket === null) return
  if (typeof socket.resetAndDestroy === "function") socket.resetAndDestroy()
  else socket.destroy()
}

/**
 * Applies the faults that happen before any response is written: a connection reset (returns
 * true: the request is over) or a slow response (waits, then returns false so the handler goes on).
 */
export const preResponseFaults = async (
  faults: FaultInjector,
  api: SandboxApi,
  res: ServerResponse,
  slowMs: number = SLOW_RESPONSE_MS
): Promise<boolean> => {
  if (faults.decide(api, "connection_reset")) {
    resetConnection(res)
    return true
  }
  if (faults.decide(api, "slow_response")) await sleep(slowMs)
  return false
}

/** Decides whether the next body is truncated or malformed (at most one; counted when chosen). */
export const pickBodyFault = (faults: FaultInjector, api: SandboxApi): BodyFault | null =>
  faults.decide(api, "truncated_body")
    ? "truncated_body"
    : faults.decide(api, "malformed_json")
      ? "malformed_json"
      : null

/**
 * Writes a JSON response, optionally corrupted:
 * - `truncated_body`: announces the full Content-Length, writes half the bytes, then destroys the
 *   socket: the client gets a premature close / aborted error.
 * - `malformed_json`: a complete, well-framed HTTP response whose body is not valid JSON (the
 *   first half of the document followed by a stray `{"`), so the client's JSON parse fails.
 */
export const sendJson = (
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Readonly<Record<string, string | number>> = {},
  fault: BodyFault | null = null
): void => {
  const text = JSON.stringify(body)
  sendText(res, status, text, { "content-type": "application/json; charset=utf-8", ...headers }, fault)
}

/** Like `sendJson` for an already serialised body. */
export const sendText = (
  res: ServerResponse,
  status: number,
  text: string,
  headers: Readonly<Record<string, string | number>>,
  fault: BodyFault | null = null
): void => {
  let buf = Buffer.from(text, "utf8")
  if (fault === "malformed_json")
    buf = Buffer.concat([buf.subarray(0, Math.floor(buf.length / 2)), Buffer.from('{"')])
  res.writeHead(status, { ...headers, "content-length": buf.length })
  if (fault === "truncated_body") {
    res.write(buf.subarray(0, Math.max(1, Math.floor(buf.length / 2))), () => {
      res.socket?.destroy()
    })
    return
  }
  res.end(buf)
}
