/**
 * The webhook intake thread. It owns the HTTP socket of `kura-sync serve`: a Shopify delivery is
 * verified, de-duplicated, appended to the write-ahead log and answered here, so its 200 never
 * waits for the landing (DuckDB, gzip, mapping) that runs on the main thread. Every other request
 * is handed to the main thread and its answer relayed. Plain node code, no Effect: it is the hot
 * path, and the file (with everything it imports) runs under Node's type stripping in tests.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http"
import { monitorEventLoopDelay } from "node:perf_hooks"
import { isMainThread, type MessagePort, parentPort, workerData } from "node:worker_threads"
import { readBody } from "../internal/readBody.js"
import { DedupSet, dedupKey } from "./DedupSet.js"
import { envelopeLine, webhookStreamName } from "./envelope.js"
import { SegmentLog, type SyncMode } from "./SegmentLog.js"
import {
  type Headers,
  type IntakeResponse,
  MAX_WEBHOOK_BYTES,
  precheckHeaders,
  respond,
  verifyWebhook
} from "./verifyWebhook.js"

/** The URL of this module, which the main thread starts as the worker. */
export const intakeWorkerUrl: string = import.meta.url

/** What the main thread gives the intake thread at start. */
export interface IntakeWorkerData {
  readonly kuraIntakeWorker: true
  /** The write-ahead log directory. */
  readonly dir: string
  readonly sync: SyncMode
  /** The last segment the main thread recovered (new ids sort after it). */
  readonly after: string | undefined
  /** Records accepted and not landed above which deliveries get 503. */
  readonly capacity: number
  /** Records already waiting (replayed by the main thread). */
  readonly outstanding: number
  readonly retryAfterSeconds: number
  /** Secrets per lower-cased shop domain. */
  readonly secrets: Readonly<Record<string, ReadonlyArray<string>>>
  readonly dedupTtlMs: number
  readonly dedupCapacity: number
  /** Dedup keys already seen, oldest first, with when. */
  readonly seen: ReadonlyArray<readonly [string, number]>
}

/** A request the intake thread hands to the main thread. */
export interface ForwardedRequest {
  readonly method: string
  readonly url: string
  readonly headers: Headers
}

/** The main thread's answer to a forwarded request. */
export interface ForwardedReply {
  readonly status: number
  readonly type: string
  readonly body: string
  readonly headers?: Readonly<Record<string, string>>
}

/** Counters the intake thread reports (deltas since the last report). */
export interface IntakeCounts {
  readonly accepted: Readonly<Record<string, number>>
  readonly duplicates: Readonly<Record<string, number>>
  readonly rejected: Readonly<Record<string, number>>
}

/** Messages from the main thread. */
export type ToIntakeWorker =
  | { readonly t: "listen"; readonly port: number; readonly host: string }
  | { readonly t: "unlisten" }
  | { readonly t: "reply"; readonly id: number; readonly reply: ForwardedReply }
  | { readonly t: "rotate"; readonly req: number }
  | { readonly t: "landed"; readonly n: number }
  | { readonly t: "closing" }
  /** Fault injection: throw `message` uncaught, as a bug in the thread would. */
  | { readonly t: "crash"; readonly message: string }
  | { readonly t: "accept"; readonly req: number; readonly headers: Headers; readonly body: Uint8Array }

/** Messages to the main thread. */
export type FromIntakeWorker =
  | { readonly t: "listening"; readonly port: number }
  | { readonly t: "listenFailed"; readonly message: string }
  | { readonly t: "unlistened" }
  /** This many more records are in the current segment (the main thread reads them from it once sealed). */
  | { readonly t: "written"; readonly n: number }
  /** A sealed segment and how many records it holds (later writes may be reported before this). */
  | {
      readonly t: "sealed"
      readonly req: number
      readonly id: string
      readonly path: string
      readonly count: number
    }
  | { readonly t: "sealFailed"; readonly req: number; readonly message: string }
  | { readonly t: "forward"; readonly id: number; readonly request: ForwardedRequest }
  | { readonly t: "answer"; readonly req: number; readonly response: IntakeResponse }
  | { readonly t: "counts"; readonly counts: IntakeCounts }
  | { readonly t: "warn"; readonly message: string }
  /** The intake thread's event-loop delay since start, in seconds (sent every second). */
  | { readonly t: "loopDelay"; readonly p50: number; readonly p99: number; readonly max: number }

const isWorkerData = (data: unknown): data is IntakeWorkerData =>
  typeof data === "object" &&
  data !== null &&
  (data as { kuraIntakeWorker?: unknown }).kuraIntakeWorker === true

const JSON_TYPE = "application/json; charset=utf-8"

const send = (
  res: ServerResponse,
  status: number,
  type: string,
  body: string,
  headers?: Readonly<Record<string, string>>
) => {
  res.writeHead(
    status,
    headers === undefined ? { "content-type": type } : { "content-type": type, ...headers }
  )
  res.end(body)
}

const sendIntake = (res: ServerResponse, r: IntakeResponse, extra?: Readonly<Record<string, string>>) =>
  send(
    res,
    r.status,
    JSON_TYPE,
    JSON.stringify(r.body),
    r.headers === undefined ? extra : { ...r.headers, ...extra }
  )

const bump = (counts: Record<string, number>, key: string) => {
  counts[key] = (counts[key] ?? 0) + 1
}

/** Runs the intake thread until the main thread terminates it. */
const run = (port: MessagePort, data: IntakeWorkerData): void => {
  const post = (m: FromIntakeWorker) => port.postMessage(m)
  const dedup = new DedupSet(data.dedupTtlMs, data.dedupCapacity)
  for (const [key, at] of data.seen) dedup.add(key, at)
  // Accepted records not yet landed (the main thread reports landings), and appends not yet written.
  let outstanding = data.outstanding
  let queued = 0
  // Records written to the current segment.
  let inSegment = 0
  let closing = false
  const log = SegmentLog.create({
    dir: data.dir,
    sync: data.sync,
    after: data.after,
    onWritten: (lines) => {
      inSegment += lines.length
      outstanding += lines.length
      queued -= lines.length
      post({ t: "written", n: lines.length })
    }
  })

  let counts = { accepted: {}, duplicates: {}, rejected: {} } as {
    accepted: Record<string, number>
    duplicates: Record<string, number>
    rejected: Record<string, number>
  }
  let countsDirty = false
  let countsScheduled = false
  const flushCounts = () => {
    countsScheduled = false
    if (!countsDirty) return
    countsDirty = false
    post({ t: "counts", counts })
    counts = { accepted: {}, duplicates: {}, rejected: {} }
  }
  const count = (kind: "accepted" | "duplicates" | "rejected", label: string) => {
    bump(counts[kind], label)
    countsDirty = true
    if (!countsScheduled) {
      countsScheduled = true
      setImmediate(flushCounts)
    }
  }

  const busy = (reason: string): IntakeResponse => ({
    ...respond(503, false, `${reason}, retry later`),
    headers: { "retry-after": String(data.retryAfterSeconds) }
  })
  const secretsFor = (shop: string) => data.secrets[shop] ?? []

  /** Verifies, de-duplicates and durably appends one delivery; the answer to send. */
  const accept = (headers: Headers, body: Uint8Array): IntakeResponse | Promise<IntakeResponse> => {
    const verified = verifyWebhook(headers, body, secretsFor, Date.now())
    if (verified._tag === "Refused") {
      if (verified.reason !== undefined) count("rejected", verified.reason)
      if (verified.reason === "hmac") {
        const shop = headers["x-shopify-shop-domain"]
        post({ t: "warn", message: `webhook refused: bad HMAC for ${String(shop ?? "").toLowerCase()}` })
      }
      return verified.response
    }
    const d = verified.delivery
    if (closing) {
      count("rejected", "busy")
      return busy("shutting down")
    }
    const key = dedupKey(d.shop, webhookStreamName(d.topic), d.eventId)
    if (dedup.has(key, d.receivedAt)) {
      count("duplicates", d.topic)
      return respond(200, true, "duplicate delivery ignored")
    }
    if (outstanding + queued >= data.capacity) {
      count("rejected", "busy")
      return busy("intake buffer full")
    }
    dedup.add(key, d.receivedAt)
    queued++
    return log.append(envelopeLine(d)).then(
      (): IntakeResponse => {
        count("accepted", d.topic)
        return respond(200, true, "accepted")
      },
      (e: unknown): IntakeResponse => {
        // Not on disk, so not accepted: Shopify's retry must be taken.
        dedup.delete(key)
        count("rejected", "busy")
        return busy(`write-ahead log failed: ${e instanceof Error ? e.message : String(e)}`)
      }
    )
  }

  let nextId = 0
  const waiting = new Map<number, ServerResponse>()
  const forward = (req: IncomingMessage, res: ServerResponse) => {
    const id = nextId++
    waiting.set(id, res)
    // Counts first, so /metrics read after an answer includes it.
    flushCounts()
    post({
      t: "forward",
      id,
      request: { method: req.method ?? "GET", url: req.url ?? "/", headers: req.headers }
    })
  }

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const url = req.url ?? "/"
    const q = url.indexOf("?")
    const path = (q < 0 ? url : url.slice(0, q)).replace(/\/+$/, "")
    if (path !== "/webhooks/shopify") return forward(req, res)
    if (req.method !== "POST")
      return send(res, 405, JSON_TYPE, JSON.stringify({ ok: false, message: "use POST" }))
    const refused = precheckHeaders(req.headers)
    if (refused !== undefined) return sendIntake(res, refused)
    readBody(req, MAX_WEBHOOK_BYTES).then(
      (body) => {
        if (body === undefined)
          return sendIntake(res, respond(413, false, "body larger than 1 MB"), { connection: "close" })
        const answer = accept(req.headers, body)
        if (answer instanceof Promise) answer.then((a) => sendIntake(res, a))
        else sendIntake(res, answer)
      },
      () => res.destroy()
    )
  }

  // What a webhook's answer waited for this thread's event loop (the main thread has its own).
  const loopDelay = monitorEventLoopDelay({ resolution: 10 })
  loopDelay.enable()
  setInterval(
    () =>
      post({
        t: "loopDelay",
        p50: loopDelay.percentile(50) / 1e9,
        p99: loopDelay.percentile(99) / 1e9,
        max: loopDelay.max / 1e9
      }),
    1_000
  ).unref()

  let server: Server | undefined
  port.on("message", (m: ToIntakeWorker) => {
    switch (m.t) {
      case "listen": {
        const s = createServer(handle)
        s.on("error", (e) => post({ t: "listenFailed", message: e.message }))
        s.listen(m.port, m.host, () => {
          server = s
          const address = s.address()
          post({
            t: "listening",
            port: typeof address === "object" && address !== null ? address.port : m.port
          })
        })
        return
      }
      case "unlisten": {
        const s = server
        if (s === undefined) return post({ t: "unlistened" })
        s.close(() => post({ t: "unlistened" }))
        s.closeIdleConnections()
        // Keep-alive clients must not hold shutdown hostage.
        setTimeout(() => s.closeAllConnections(), 2_000).unref()
        return
      }
      case "reply": {
        const res = waiting.get(m.id)
        waiting.delete(m.id)
        if (res !== undefined) send(res, m.reply.status, m.reply.type, m.reply.body, m.reply.headers)
        return
      }
      case "rotate": {
        // rotate() writes what is queued and switches segments before its first await, so the
        // count taken right after it is exactly the sealed segment's.
        const sealed = log.rotate()
        const count = inSegment
        inSegment = 0
        sealed.then(
          (segment) => post({ t: "sealed", req: m.req, id: segment.id, path: segment.path, count }),
          (e: unknown) =>
            post({ t: "sealFailed", req: m.req, message: e instanceof Error ? e.message : String(e) })
        )
        return
      }
      case "landed":
        outstanding -= m.n
        return
      case "closing":
        closing = true
        return
      case "crash":
        setImmediate(() => {
          throw new Error(m.message)
        })
        return
      case "accept": {
        const answer = accept(m.headers, m.body)
        Promise.resolve(answer).then((response) => {
          flushCounts()
          post({ t: "answer", req: m.req, response })
        })
        return
      }
    }
  })
}

if (!isMainThread && parentPort !== null && isWorkerData(workerData)) run(parentPort, workerData)
