/**
 * The HTTP service Cloud Run talks to: scheduler triggers, Shopify webhooks, health, metrics and the
 * status page. Plain node:http, because webhook verification needs the exact raw bytes and full
 * control over when the body is read.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { monitorEventLoopDelay } from "node:perf_hooks"
import { CheckpointStore, streamKeyToString } from "@kura/core"
import { Warehouse } from "@kura/warehouse"
import { Clock, Effect, Option } from "effect"
import { withCloudTrace } from "./CloudTrace.js"
import { readBody } from "./internal/readBody.js"
import { Metrics } from "./Metrics.js"
import { RunLedger, summarize } from "./RunLedger.js"
import { renderStatusPage } from "./StatusPage.js"
import { buildStatusReport, type WebhookIntakeReport } from "./StatusReport.js"
import { StreamRunner } from "./StreamRunner.js"
import { TriggerAuth } from "./TriggerAuth.js"
import { type Headers, MAX_WEBHOOK_BYTES, WebhookIntake } from "./WebhookIntake.js"
import { IntakeThread } from "./webhooks/IntakeThread.js"

/** Options for the HTTP service. */
export interface HttpServiceOptions {
  readonly port: number
  readonly host?: string
  readonly skipped?: ReadonlyArray<{ readonly source: string; readonly reason: string }>
  /**
   * Require trigger credentials for `/`, `/status.json` and `/metrics` too: on a public Cloud Run
   * URL they would otherwise reveal stream names, volumes and error messages to anyone.
   */
  readonly protectStatus?: boolean
}

/** A listening server. */
export interface RunningServer {
  readonly port: number
  readonly url: string
}

type Reply = {
  readonly status: number
  readonly type: string
  readonly body: string
  readonly headers?: Record<string, string>
}

/** What routing needs of a request (a node request, or one the intake thread handed over). */
interface RequestLike {
  readonly method: string | undefined
  readonly url: string | undefined
  readonly headers: Headers
  /** The body up to `limit` bytes (`undefined` beyond it). */
  readonly readBody: (limit: number) => Promise<Uint8Array | undefined>
}

const firstHeader = (headers: Headers, name: string): string | undefined => {
  const v = headers[name]
  return typeof v === "string" ? v : v?.[0]
}

const json = (status: number, value: unknown): Reply => ({
  status,
  type: "application/json; charset=utf-8",
  body: JSON.stringify(value)
})

/**
 * Starts the server in the current scope. Closing the scope stops accepting connections first; runs
 * in flight are drained by the StreamRunner's own finalizer afterwards.
 */
export const startHttpService = Effect.fnUntraced(function* (options: HttpServiceOptions) {
  const runner = yield* StreamRunner
  const auth = yield* TriggerAuth
  const intake = yield* WebhookIntake
  const ledger = yield* RunLedger
  const metrics = yield* Metrics
  const checkpoints = yield* CheckpointStore
  const context = yield* Effect.context<never>()
  // How long callbacks (HTTP answers included) waited for the event loop: the webhook p99 is this
  // plus the request's own work. Exported on /metrics; the histogram covers the process's life.
  const loopDelay = monitorEventLoopDelay({ resolution: 10 })
  loopDelay.enable()
  yield* Effect.addFinalizer(() => Effect.sync(() => loopDelay.disable()))

  const thread = yield* Effect.serviceOption(IntakeThread)
  // The embedded engine's own memory for /metrics; a service without a warehouse has none to show.
  const warehouse = yield* Effect.serviceOption(Warehouse)
  // Said once when the read starts failing and once when it works again, not at every scrape.
  let engineMemoryFailing = false
  /** The intake thread's health for the status report and page (threaded intake only). */
  const intakeReport: Effect.Effect<WebhookIntakeReport | undefined> = Option.isNone(thread)
    ? Effect.succeed(undefined)
    : Effect.map(thread.value.stats, (s) => ({
        restarts: s.restarts,
        lastRestartAt: s.lastRestartAt === null ? null : new Date(s.lastRestartAt).toISOString(),
        lastError: s.lastError,
        adopted: s.adopted,
        pending: s.pending
      }))

  const route = (req: RequestLike): Effect.Effect<Reply> =>
    Effect.gen(function* () {
      const url = new URL(req.url ?? "/", "http://localhost")
      const path = url.pathname.replace(/\/+$/, "") || "/"
      const method = req.method ?? "GET"

      if (path === "/healthz") return json(200, { ok: true })
      if (path === "/readyz") {
        const draining = yield* runner.draining
        return json(draining ? 503 : 200, { ok: !draining, draining })
      }
      if (
        options.protectStatus === true &&
        (path === "/" || path === "/status.json" || path === "/metrics")
      ) {
        const outcome = yield* auth.authorize(firstHeader(req.headers, "authorization"))
        if (outcome._tag === "Refused")
          return {
            ...json(401, { ok: false, message: outcome.reason }),
            headers: { "www-authenticate": "Bearer" }
          }
      }
      if (path === "/metrics" && method === "GET") {
        const now = yield* Clock.currentTimeMillis
        const statuses = summarize(
          runner.streams.map((s) => s.key),
          yield* ledger.list(),
          now
        )
        for (const [quantile, ns] of [
          ["0.5", loopDelay.percentile(50)],
          ["0.99", loopDelay.percentile(99)],
          ["1", loopDelay.max]
        ] as const)
          yield* metrics.set(
            "kura_event_loop_delay_seconds",
            "Event-loop delay since start (quantile 1 is the longest wait); sampled every 10 ms.",
            { quantile },
            ns / 1e9
          )
        if (Option.isSome(thread)) {
          const delay = yield* thread.value.loopDelay
          for (const [quantile, seconds] of [
            ["0.5", delay.p50],
            ["0.99", delay.p99],
            ["1", delay.max]
          ] as const)
            yield* metrics.set(
              "kura_webhook_intake_loop_delay_seconds",
              "Event-loop delay of the webhook intake thread since start (quantile 1 is the longest wait).",
              { quantile },
              seconds
            )
        }
        // What Cloud Run's memory limit counts (resident) and the part V8 holds: the rest is native,
        // mostly DuckDB's buffer pool, which KURA_DUCKDB_MEMORY_LIMIT bounds.
        const memory = process.memoryUsage()
        for (const [name, help, bytes] of [
          ["process_resident_memory_bytes", "Resident memory of the process.", memory.rss],
          ["nodejs_heap_size_used_bytes", "V8 heap in use.", memory.heapUsed],
          ["nodejs_heap_size_total_bytes", "V8 heap reserved.", memory.heapTotal],
          [
            "nodejs_external_memory_bytes",
            "Memory of JS objects held outside the V8 heap (buffers).",
            memory.external
          ]
        ] as const)
          yield* metrics.set(name, help, {}, bytes)
        // DuckDB's share of the resident memory, by its own tags: whether growth is the buffer pool
        // (bounded by KURA_DUCKDB_MEMORY_LIMIT) or something else. A failed read leaves them out
        // of this scrape rather than failing it.
        const engine = Option.isSome(warehouse)
          ? yield* Effect.result(warehouse.value.engineMemory)
          : undefined
        if (engine?._tag === "Failure" && !engineMemoryFailing) {
          engineMemoryFailing = true
          yield* Effect.logWarning(`/metrics: engine memory unavailable: ${engine.failure.message}`)
        }
        if (engine?._tag === "Success" && engineMemoryFailing) {
          engineMemoryFailing = false
          yield* Effect.logInfo("/metrics: engine memory available again")
        }
        if (engine?._tag === "Success")
          for (const m of engine.success) {
            yield* metrics.set(
              "kura_warehouse_engine_memory_bytes",
              "Memory the embedded warehouse engine (DuckDB) holds, by its own tag.",
              { tag: m.tag },
              m.memoryBytes
            )
            yield* metrics.set(
              "kura_warehouse_engine_temporary_bytes",
              "Bytes the embedded warehouse engine (DuckDB) spilled to temporary files, by its own tag.",
              { tag: m.tag },
              m.temporaryBytes
            )
          }
        for (const s of statuses)
          if (s.lagMs !== undefined)
            yield* metrics.set(
              "kura_sync_lag_seconds",
              "Seconds since the stream last synced successfully.",
              { source: s.key.source, account: s.key.account, stream: s.key.stream },
              s.lagMs / 1000
            )
        return { status: 200, type: "text/plain; version=0.0.4; charset=utf-8", body: yield* metrics.render }
      }
      if (path === "/status.json" && method === "GET") {
        const report = yield* buildStatusReport(
          runner.streams.map((s) => s.key),
          options.skipped ?? []
        ).pipe(
          Effect.provideService(RunLedger, ledger),
          Effect.provideService(CheckpointStore, checkpoints),
          Effect.result
        )
        const webhookIntake = yield* intakeReport
        const erased = yield* Effect.result(runner.erasedAccounts)
        if (report._tag === "Failure")
          return json(503, { ok: false, message: `state unavailable: ${report.failure.message}` })
        if (erased._tag === "Failure")
          return json(503, { ok: false, message: `erasure ledger unavailable: ${erased.failure.message}` })
        return json(200, {
          ...report.success,
          erasedAccounts: erased.success.map((e) => ({
            source: e.source,
            account: e.account,
            reason: e.reason
          })),
          ...(webhookIntake === undefined ? {} : { webhookIntake })
        })
      }
      if (path === "/" && method === "GET") {
        const now = yield* Clock.currentTimeMillis
        const runs = yield* ledger.list(200)
        return {
          status: 200,
          type: "text/html; charset=utf-8",
          body: renderStatusPage({
            streams: summarize(
              runner.streams.map((s) => s.key),
              runs,
              now
            ),
            runs: runs.slice(0, 40),
            skipped: options.skipped ?? [],
            now,
            draining: yield* runner.draining,
            webhookIntake: yield* intakeReport,
            erasedAccounts: yield* Effect.result(runner.erasedAccounts)
          })
        }
      }
      if (path === "/webhooks/shopify") {
        if (method !== "POST") return json(405, { ok: false, message: "use POST" })
        const refused = intake.precheck(req.headers)
        if (Option.isSome(refused)) return json(refused.value.status, refused.value.body)
        const body = yield* Effect.promise(() => req.readBody(MAX_WEBHOOK_BYTES))
        if (body === undefined)
          return {
            ...json(413, { ok: false, message: "body larger than 1 MB" }),
            headers: { connection: "close" }
          }
        const answer = yield* intake.accept(req.headers, body)
        return answer.headers === undefined
          ? json(answer.status, answer.body)
          : { ...json(answer.status, answer.body), headers: { ...answer.headers } }
      }
      // `/sync` alone names every configured stream: one pass, one set of bookkeeping (leases,
      // ledger entries, checkpoints, the close), where a trigger per source opened a pass each.
      const sync = /^\/sync(?:\/([a-z]+)(?:\/([A-Za-z0-9_.-]+))?)?$/.exec(path)
      if (sync !== null) {
        if (method !== "POST") return json(405, { ok: false, message: "use POST" })
        const outcome = yield* auth.authorize(firstHeader(req.headers, "authorization"))
        if (outcome._tag === "Refused") {
          yield* Effect.logWarning(`trigger refused: ${outcome.reason}`)
          return {
            ...json(401, { ok: false, message: outcome.reason }),
            headers: { "www-authenticate": "Bearer" }
          }
        }
        const selector = {
          source: sync[1],
          stream: sync[2],
          account: url.searchParams.get("account") ?? undefined
        }
        if (runner.select(selector).length === 0)
          return json(404, {
            ok: false,
            message: `no configured stream matches ${path.slice("/sync/".length) || "/sync"}`
          })
        const started = yield* runner.start(selector, "http")
        const runs = started.map((s) => ({
          stream: streamKeyToString(s.key),
          outcome: s._tag,
          ...(s._tag === "Started" ? { runId: s.runId } : {}),
          ...(s._tag === "Refused" ? { reason: s.reason } : {})
        }))
        yield* Effect.logInfo(`trigger from ${outcome.principal}: ${JSON.stringify(runs)}`)
        if (started.some((s) => s._tag === "Started")) return json(202, { ok: true, runs })
        // Every stream asked for belongs to an erased shop: gone until an operator acts.
        const refused = started.find((s) => s._tag === "Refused")
        if (refused !== undefined && started.every((s) => s._tag === "Refused"))
          return json(410, { ok: false, message: refused.reason, runs })
        if (started.some((s) => s._tag === "Draining"))
          return {
            ...json(503, { ok: false, message: "shutting down", runs }),
            headers: { "retry-after": "10" }
          }
        return json(409, { ok: false, message: "a run already holds the lease for this stream", runs })
      }
      return json(404, { ok: false, message: "not found" })
    })

  const answer = (req: RequestLike): Effect.Effect<Reply> => {
    const header = firstHeader(req.headers, "x-cloud-trace-context")
    return route(req).pipe(
      Effect.catchCause((cause) =>
        Effect.logError("request failed", cause).pipe(
          Effect.as(json(500, { ok: false, message: "internal error" }))
        )
      ),
      Effect.annotateLogs({ httpMethod: req.method ?? "", path: req.url ?? "" }),
      withCloudTrace(header)
    )
  }
  const host = options.host ?? "0.0.0.0"

  // The threaded intake owns the socket: webhooks are answered on its thread, the rest here.
  if (Option.isSome(thread)) {
    const port = yield* thread.value.listen({ port: options.port, host }, (request) =>
      Effect.runPromiseWith(context)(
        answer({ ...request, readBody: () => Promise.resolve(new Uint8Array(0)) })
      )
    )
    yield* Effect.logInfo(`listening on port ${port}`)
    yield* Effect.logDebug("webhook intake answers on its own thread")
    return { port, url: `http://127.0.0.1:${port}` } satisfies RunningServer
  }

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const request: RequestLike = {
      method: req.method,
      url: req.url,
      headers: req.headers,
      readBody: (limit) => readBody(req, limit)
    }
    Effect.runForkWith(context)(
      answer(request).pipe(
        Effect.tap((reply) =>
          Effect.sync(() => {
            res.writeHead(reply.status, { "content-type": reply.type, ...reply.headers })
            res.end(reply.body)
          })
        )
      )
    )
  }

  const server: Server = yield* Effect.acquireRelease(
    Effect.callback<Server>((resume) => {
      const s = createServer(handle)
      s.on("error", (e) => resume(Effect.die(e)))
      s.listen(options.port, host, () => resume(Effect.succeed(s)))
    }),
    (s) =>
      Effect.callback<void>((resume) => {
        s.close(() => resume(Effect.void))
        s.closeIdleConnections()
        // Keep-alive clients must not hold shutdown hostage.
        setTimeout(() => s.closeAllConnections(), 2_000).unref()
      })
  )
  const port = (server.address() as AddressInfo).port
  yield* Effect.logInfo(`listening on port ${port}`)
  return { port, url: `http://127.0.0.1:${port}` } satisfies RunningServer
})
