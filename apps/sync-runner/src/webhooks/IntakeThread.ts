/**
 * The threaded batching intake `kura-sync serve` runs by default. A worker thread (`intakeWorker`)
 * owns the HTTP socket and answers Shopify: verify, de-duplicate, append to the write-ahead log,
 * 200. The main thread keeps everything heavy: it lands each sealed segment through the
 * WebhookBatchSink (lake, `_kura_raw`, canonical upserts: DuckDB's appender and the mapping are
 * synchronous) and answers the other routes the worker hands it. A landing therefore never delays
 * a webhook's answer, which only waits for its own write(2).
 *
 * Durability is the same as the in-thread batcher: a record is answered once written; a segment
 * is deleted only after its batch landed; at start the main thread replays the segments a previous
 * process left (a SIGKILL loses nothing acknowledged) before the worker opens new ones after them.
 *
 * A worker that dies (a crash, running out of its heap) is restarted on the same port with
 * backoff (`restartDelayMs`, doubling to `maxRestartDelayMs`; back to the first delay once a worker
 * lived a minute). The segments it wrote stay on disk, so the main thread adopts them (whatever
 * the dead thread wrote, reported or not) and lands them like sealed ones: no answered delivery is
 * lost. Requests in flight at the death get no answer and are retried by Shopify; the new worker
 * is told every delivery on disk or landed, so such a retry is answered as a duplicate.
 * `kura_webhook_intake_restarts_total` and `stats.restarts` count the restarts; `stats` also keeps
 * when the last one happened and why the thread died (secrets masked), for `/status.json` and the
 * status page.
 */
import { readdirSync, readFileSync, rmSync } from "node:fs"
import { readFile } from "node:fs/promises"
import { join } from "node:path"
import { Worker } from "node:worker_threads"
import { redact, registerSecret } from "@kura/core"
import { Context, Effect, Fiber, Layer, Option, type Scope } from "effect"
import { Metrics } from "../Metrics.js"
import { type Headers, type IntakeResponse, WebhookIntake } from "../WebhookIntake.js"
import type { WebhookDelivery } from "../WebhookSink.js"
import { DedupSet, dedupKey } from "./DedupSet.js"
import { webhookStreamName } from "./envelope.js"
import type {
  ForwardedReply,
  ForwardedRequest,
  FromIntakeWorker,
  IntakeWorkerData,
  ToIntakeWorker
} from "./intakeWorker.js"
import { landWithRetry } from "./landWithRetry.js"
import { type Segment, SegmentLog, segmentLines } from "./SegmentLog.js"
import { precheckHeaders, respond } from "./verifyWebhook.js"
import { deliveryFromEnvelope } from "./WarehouseWebhookSink.js"
import type { BatcherStats, WebhookBatcherOptions } from "./WebhookBatcher.js"
import { WebhookBatchSink } from "./WebhookBatchSink.js"

export type { ForwardedReply, ForwardedRequest }

/** Options of the threaded intake: the batcher's, plus the webhook secrets per shop domain. */
export interface IntakeThreadOptions extends WebhookBatcherOptions {
  /** Secrets per shop domain (webhook secret and/or app client secret); several allow rotation. */
  readonly secrets: Readonly<Record<string, ReadonlyArray<string>>>
  /** The intake thread's V8 old-space limit in MB (default 128). */
  readonly workerHeapMb?: number
  /** First wait before restarting a dead intake thread (default 100 ms); it doubles per death. */
  readonly restartDelayMs?: number
  /** Longest wait before a restart (default 30 s). */
  readonly maxRestartDelayMs?: number
}

/** The threaded intake's figures: the batcher's, plus how often its thread was restarted. */
export interface IntakeThreadStats extends BatcherStats {
  readonly restarts: number
  /** Records dead threads had written and not handed over, found on disk and queued to land. */
  readonly adopted: number
  /** When the thread was last restarted (epoch ms), or null if it never died. */
  readonly lastRestartAt: number | null
  /** Why the last dead thread died (its exit code and uncaught error, secrets masked), or null. */
  readonly lastError: string | null
}

interface Sealed {
  readonly segment: Segment
  /** Records the worker reported written to it. */
  readonly count: number
  /** Its lines, once read (recovered segments at start; sealed ones when they land). */
  readonly lines?: ReadonlyArray<string>
}

const hooks = `export async function resolve(s, c, n) { try { return await n(s, c) } catch (e) { if (s.startsWith(".") && s.endsWith(".js")) return n(s.slice(0, -3) + ".ts", c); throw e } }`

/**
 * Starts the worker. From the built app the module is a plain .js chunk; from the sources (tests)
 * it is TypeScript whose `.js` imports name `.ts` files, so a resolve hook maps them first.
 */
const startWorker = (url: string, workerData: IntakeWorkerData, heapMb: number): Worker => {
  const resourceLimits = { maxOldGenerationSizeMb: heapMb }
  if (!url.endsWith(".ts")) return new Worker(new URL(url), { workerData, resourceLimits })
  const boot = `const { register } = require("node:module"); register("data:text/javascript," + encodeURIComponent(${JSON.stringify(hooks)})); import(${JSON.stringify(url)})`
  return new Worker(boot, { eval: true, workerData, resourceLimits })
}

/** The threaded intake service (the HTTP service asks it to listen). */
export class IntakeThread extends Context.Service<
  IntakeThread,
  {
    /**
     * Listens on `port` in the intake thread until the scope closes; requests other than webhooks
     * are answered by `forward` on this thread. Resolves with the bound port.
     */
    readonly listen: (
      options: { readonly port: number; readonly host: string },
      forward: (request: ForwardedRequest) => Promise<ForwardedReply>
    ) => Effect.Effect<number, never, Scope.Scope>
    /** The intake served through this thread. */
    readonly intake: WebhookIntake["Service"]
    readonly stats: Effect.Effect<IntakeThreadStats>
    /**
     * Terminates the intake thread as a crash would, for fault-injection tests and chaos runs: it
     * is restarted like any thread that died.
     */
    readonly killThread: Effect.Effect<void>
    /**
     * Makes the intake thread throw `message` uncaught, as a bug in it would (fault injection): it
     * dies with that error and is restarted.
     */
    readonly crashThread: (message: string) => Effect.Effect<void>
    /** The intake thread's event-loop delay since start, in seconds (updated every second). */
    readonly loopDelay: Effect.Effect<{ readonly p50: number; readonly p99: number; readonly max: number }>
  }
>()("@kura/sync-runner/IntakeThread") {
  /** Replays what a previous process left, starts the worker and the lander; closing the scope drains. */
  static readonly make = Effect.fnUntraced(function* (options: IntakeThreadOptions) {
    const sink = yield* WebhookBatchSink
    const metrics = yield* Metrics
    const services = yield* Effect.context<never>()
    const runFork = Effect.runForkWith(services)
    const maxBatch = options.maxBatch ?? 5_000
    const flushMs = options.flushMs ?? 1_000
    const drainTimeoutMs = options.drainTimeoutMs ?? 20_000

    // Seen event ids: those landed lately, then those of the segments about to be replayed.
    const dedup = new DedupSet(options.dedupTtlMs ?? 48 * 3_600_000, options.dedupCapacity ?? 200_000)
    const seen = yield* Effect.result(sink.recentEvents(Date.now() - dedup.ttlMs, dedup.capacity))
    if (seen._tag === "Success") for (const s of [...seen.success].reverse()) dedup.add(s.key, s.at)
    else yield* Effect.logWarning(`webhook dedup: cannot read recent event ids (${seen.failure.message})`)
    const recovered = SegmentLog.recover(options.dir)
    const backlog: Array<Sealed> = recovered.map((r) => ({
      segment: { id: r.id, path: r.path },
      count: r.lines.length,
      lines: r.lines
    }))
    let replayed = 0
    for (const r of recovered)
      for (const line of r.lines) {
        const d = deliveryFromEnvelope(line)
        if (d._tag === "Some") dedup.add(keyOf(d.value), d.value.receivedAt)
        replayed++
      }
    if (replayed > 0)
      yield* Effect.logInfo(
        `webhooks: replaying ${replayed} record(s) from ${recovered.length} write-ahead segment(s)`
      )

    let outstanding = replayed
    // Records written to the worker's current segment (its lines are read from disk once sealed,
    // rather than copied between threads).
    let current = 0
    let currentSince = 0
    /** The rotation in flight, if any. */
    let sealing: Promise<boolean> | undefined
    let closing = false
    const counts = { accepted: 0, landed: 0, batches: 0, failures: 0 }

    const { intakeWorkerUrl } = yield* Effect.promise(() => import("./intakeWorker.js"))
    const secrets = Object.fromEntries(
      Object.entries(options.secrets).map(([shop, s]) => [shop.toLowerCase(), [...s]])
    )
    /** The newest segment id seen on disk: a (re)started worker's ids sort after it. */
    let lastSegmentId = recovered.at(-1)?.id
    const spawn = (): Worker =>
      startWorker(
        intakeWorkerUrl,
        {
          kuraIntakeWorker: true,
          dir: options.dir,
          sync: options.sync ?? "window",
          after: lastSegmentId,
          capacity: options.capacity ?? 20_000,
          outstanding,
          retryAfterSeconds: options.retryAfterSeconds ?? 5,
          secrets,
          dedupTtlMs: dedup.ttlMs,
          dedupCapacity: dedup.capacity,
          seen: dedup.entries()
        },
        options.workerHeapMb ?? 128
      )
    let worker = spawn()
    let alive = true
    let restarts = 0
    let adoptedTotal = 0
    let lastRestartAt: number | null = null
    let lastError: string | null = null
    /** The current thread's uncaught error, reported before its exit. */
    let workerError: string | undefined
    // A dead thread's error may quote a webhook secret: register them with core's redaction
    // (kura-sync's config does too; this also covers an intake built without it).
    registerSecret(...Object.values(secrets).flat())
    const masked = redact
    let startedAt = Date.now()
    const firstDelayMs = options.restartDelayMs ?? 100
    const maxDelayMs = options.maxRestartDelayMs ?? 30_000
    let delayMs = firstDelayMs
    let restartTimer: ReturnType<typeof setTimeout> | undefined
    /** Where the service listens once it does (a restarted worker listens there again). */
    let bound: { readonly port: number; readonly host: string } | undefined
    const post = (m: ToIntakeWorker) => {
      if (alive) worker.postMessage(m)
    }

    let nextReq = 0
    const rotations = new Map<number, { resolve: (s: Sealed) => void; reject: (e: Error) => void }>()
    const answers = new Map<number, (r: IntakeResponse) => void>()
    let loopDelay = { p50: 0, p99: 0, max: 0 }
    let onListen: ((m: FromIntakeWorker) => void) | undefined
    let forward: ((request: ForwardedRequest) => Promise<ForwardedReply>) | undefined

    const record = (
      name: string,
      help: string,
      labelName: string,
      deltas: Readonly<Record<string, number>>
    ) => {
      for (const [label, n] of Object.entries(deltas))
        runFork(metrics.increment(name, help, { [labelName]: label }, n))
    }
    const onMessage = (m: FromIntakeWorker) => {
      switch (m.t) {
        case "written":
          if (current === 0) currentSince = Date.now()
          current += m.n
          outstanding += m.n
          counts.accepted += m.n
          if (current >= maxBatch && sealing === undefined) void sealNow()
          return
        case "sealed": {
          // Writes to the next segment may have been reported already: take only this one's.
          current -= m.count
          if (current > 0) currentSince = Date.now()
          rotations.get(m.req)?.resolve({ segment: { id: m.id, path: m.path }, count: m.count })
          rotations.delete(m.req)
          return
        }
        case "sealFailed":
          rotations.get(m.req)?.reject(new Error(m.message))
          rotations.delete(m.req)
          return
        case "counts":
          record("kura_webhooks_accepted_total", "Accepted webhook deliveries.", "topic", m.counts.accepted)
          record(
            "kura_webhooks_duplicates_total",
            "Duplicate deliveries ignored.",
            "topic",
            m.counts.duplicates
          )
          record("kura_webhooks_rejected_total", "Refused webhook deliveries.", "reason", m.counts.rejected)
          return
        case "warn":
          runFork(Effect.logWarning(m.message))
          return
        case "loopDelay":
          loopDelay = { p50: m.p50, p99: m.p99, max: m.max }
          return
        case "answer":
          answers.get(m.req)?.(m.response)
          answers.delete(m.req)
          return
        case "forward": {
          const handler = forward
          const reply = (r: ForwardedReply) => post({ t: "reply", id: m.id, reply: r })
          if (handler === undefined) reply({ status: 503, type: "text/plain", body: "starting" })
          else
            handler(m.request).then(reply, () =>
              reply({
                status: 500,
                type: "application/json",
                body: '{"ok":false,"message":"internal error"}'
              })
            )
          return
        }
        case "listening":
        case "listenFailed":
        case "unlistened":
          onListen?.(m)
          return
      }
    }

    /**
     * Queues the segments on disk that are not queued yet: what a dead worker wrote (sealed or
     * not, reported or not). Their deliveries join the dedup set the next worker starts from.
     */
    const adoptSegments = () => {
      const queued = new Set(backlog.map((b) => b.segment.id))
      let adopted = 0
      for (const file of readdirSync(options.dir).sort()) {
        if (!file.endsWith(".ndjson")) continue
        const id = file.slice(0, -".ndjson".length)
        if (lastSegmentId === undefined || id > lastSegmentId) lastSegmentId = id
        if (queued.has(id)) continue
        const path = join(options.dir, file)
        const lines = segmentLines(readFileSync(path, "utf8"))
        if (lines.length === 0) {
          rmSync(path, { force: true })
          continue
        }
        for (const line of lines) {
          const d = deliveryFromEnvelope(line)
          if (d._tag === "Some") dedup.add(keyOf(d.value), d.value.receivedAt)
        }
        backlog.push({ segment: { id, path }, count: lines.length, lines })
        adopted += lines.length
      }
      // Records the dead thread wrote but never reported are on disk (and now queued) all the same.
      outstanding += adopted - current
      current = 0
      adoptedTotal += adopted
      return adopted
    }

    /** Starts a new worker after the backoff and has it listen where the dead one did. */
    const scheduleRestart = () => {
      // A worker that lived a while died of something new: start again from the first delay.
      if (Date.now() - startedAt >= 60_000) delayMs = firstDelayMs
      const wait = delayMs
      delayMs = Math.min(maxDelayMs, delayMs * 2)
      restartTimer = setTimeout(() => {
        restartTimer = undefined
        if (closing) return
        restarts++
        lastRestartAt = Date.now()
        runFork(
          metrics.increment(
            "kura_webhook_intake_restarts_total",
            "Times the webhook intake thread was restarted after it died.",
            {},
            1
          )
        )
        worker = attach(spawn())
        alive = true
        startedAt = Date.now()
        const where = bound
        if (where === undefined) return
        onListen = (m) => {
          if (m.t === "listening")
            runFork(
              Effect.logInfo(
                `webhook intake thread restarted (${restarts} restart(s)); listening on ${where.host}:${m.port} again`
              )
            )
          else if (m.t === "listenFailed") {
            runFork(Effect.logError(`the restarted webhook intake thread cannot listen: ${m.message}`))
            // Its exit schedules the next attempt, further backed off.
            void worker.terminate()
          }
        }
        post({ t: "listen", port: where.port, host: where.host })
      }, wait)
    }

    /** The thread died: fail what waited on it, queue what it wrote, and restart it. */
    const died = (exit: string) => {
      alive = false
      const why = masked(workerError === undefined ? exit : `${exit}: ${workerError}`)
      workerError = undefined
      for (const r of rotations.values()) r.reject(new Error(`the intake thread ${why}`))
      rotations.clear()
      for (const answer of answers.values())
        answer({
          ...respond(503, false, "intake thread restarting, retry later"),
          headers: { "retry-after": String(options.retryAfterSeconds ?? 5) }
        })
      answers.clear()
      if (closing) return
      lastError = why
      const adopted = adoptSegments()
      if (bound === undefined)
        // Not listening yet: fail the listen in progress (the service does not start).
        onListen?.({ t: "listenFailed", message: `intake thread ${why}` })
      runFork(
        Effect.logError(
          `webhook intake thread ${why}; restarting it in ${delayMs} ms (${adopted} record(s) it wrote are queued to land)`
        )
      )
      scheduleRestart()
    }
    function attach(w: Worker): Worker {
      w.on("message", onMessage)
      w.on("error", (e) => {
        if (w === worker) workerError = e.message
        runFork(Effect.logError(`webhook intake thread failed: ${masked(e.message)}`))
      })
      w.on("exit", (code) => {
        if (w === worker && alive) died(`exited with code ${code}`)
      })
      return w
    }
    attach(worker)

    /**
     * Seals the worker's current segment and queues it for landing (an empty one is deleted).
     * One rotation at a time: their answers must come back in order. Resolves false when the
     * worker could not seal (its records stay on disk and land with a later segment or start).
     */
    const sealNow = (): Promise<boolean> => {
      if (sealing !== undefined) return sealing
      if (!alive) return Promise.resolve(false)
      const req = nextReq++
      const done = new Promise<boolean>((resolve) => {
        rotations.set(req, {
          resolve: (s) => {
            if (s.count > 0) backlog.push(s)
            else rmSync(s.segment.path, { force: true })
            sealing = undefined
            resolve(true)
            // A batch is bounded even while an earlier one is landing.
            if (current >= maxBatch) void sealNow()
          },
          reject: (e) => {
            sealing = undefined
            runFork(Effect.logError(`webhooks: sealing a write-ahead segment failed: ${e.message}`))
            resolve(false)
          }
        })
      })
      sealing = done
      post({ t: "rotate", req })
      return done
    }

    const pendingGauge = Effect.suspend(() =>
      metrics.set("kura_webhooks_pending", "Accepted webhook records not yet landed.", {}, outstanding)
    )

    const landNext = Effect.gen(function* () {
      const next = backlog[0]
      if (next === undefined) return
      let deliveries: Array<WebhookDelivery> | undefined
      /** Reads the segment (once) and lands it; a read that fails is retried like a landing. */
      const attemptLanding = Effect.gen(function* () {
        if (deliveries === undefined) {
          const lines =
            next.lines ??
            segmentLines(
              yield* Effect.tryPromise({
                try: () => readFile(next.segment.path, "utf8"),
                catch: (e) => new Error(`cannot read ${next.segment.path}: ${String(e)}`)
              })
            )
          if (lines.length !== next.count)
            yield* Effect.logWarning(
              `webhooks: segment ${next.segment.id} holds ${lines.length} record(s), ${next.count} were reported written`
            )
          const parsed: Array<WebhookDelivery> = []
          for (const [i, line] of lines.entries()) {
            // Let forwarded requests (health, metrics, triggers) through between slices.
            if (i > 0 && i % 500 === 0) yield* yieldToIo
            const d = deliveryFromEnvelope(line)
            if (d._tag === "Some") {
              parsed.push(d.value)
              // A restarted worker starts from this set: a retry of a landed delivery is a duplicate.
              dedup.add(keyOf(d.value), d.value.receivedAt)
            }
          }
          deliveries = parsed
        }
        if (deliveries.length > 0) yield* sink.landBatch({ batchId: next.segment.id, deliveries })
        return deliveries.length
      })
      yield* landWithRetry({
        attempt: attemptLanding,
        batchId: next.segment.id,
        records: next.count,
        closing: () => closing,
        drainTimeoutMs,
        dir: options.dir,
        outstanding: () => outstanding,
        counts,
        metrics
      })
      rmSync(next.segment.path, { force: true })
      backlog.shift()
      outstanding -= next.count
      post({ t: "landed", n: next.count })
      yield* pendingGauge
    })

    const lander = Effect.gen(function* () {
      while (true) {
        if (backlog.length > 0) {
          yield* landNext
          continue
        }
        if (closing) {
          // One last rotation, asked after the worker stopped accepting: whatever it had queued
          // is in it. A rotation already in flight may predate that, so wait for it first.
          const inFlight = sealing
          if (inFlight !== undefined) {
            yield* Effect.promise(() => inFlight)
            continue
          }
          const before = backlog.length
          if (!(yield* Effect.promise(sealNow))) return
          if (backlog.length > before) continue
          return
        }
        if (current > 0 && (current >= maxBatch || Date.now() - currentSince >= flushMs)) {
          if (!(yield* Effect.promise(sealNow))) yield* Effect.sleep(1_000)
          yield* pendingGauge
          continue
        }
        yield* Effect.sleep(Math.max(2, Math.min(20, flushMs)))
      }
    })
    const fiber = yield* Effect.forkDetach(lander)
    yield* Effect.addFinalizer(() =>
      Effect.gen(function* () {
        closing = true
        if (restartTimer !== undefined) clearTimeout(restartTimer)
        post({ t: "closing" })
        yield* Fiber.awaitAll([fiber])
        yield* Effect.promise(() => worker.terminate())
        yield* Effect.logInfo(`webhooks: drained (${counts.landed} landed, ${outstanding} left in the log)`)
      })
    )

    const listen = (
      where: { readonly port: number; readonly host: string },
      handler: (request: ForwardedRequest) => Promise<ForwardedReply>
    ) =>
      Effect.acquireRelease(
        Effect.callback<number>((resume) => {
          forward = handler
          onListen = (m) => {
            if (m.t === "listening") {
              bound = { port: m.port, host: where.host }
              resume(Effect.succeed(m.port))
            } else if (m.t === "listenFailed") resume(Effect.die(new Error(`cannot listen: ${m.message}`)))
          }
          post({ t: "listen", port: where.port, host: where.host })
        }),
        () =>
          Effect.callback<void>((resume) => {
            bound = undefined
            // A dead thread holds no socket (its restart, if pending, no longer listens).
            if (!alive) return resume(Effect.void)
            onListen = (m) => {
              if (m.t === "unlistened") resume(Effect.void)
            }
            post({ t: "unlisten" })
          })
      )

    const accept = (headers: Headers, body: Uint8Array): Effect.Effect<IntakeResponse> =>
      Effect.callback<IntakeResponse>((resume) => {
        if (!alive)
          return resume(
            Effect.succeed({
              ...respond(503, false, "intake thread restarting, retry later"),
              headers: { "retry-after": String(options.retryAfterSeconds ?? 5) }
            })
          )
        const req = nextReq++
        answers.set(req, (r) => resume(Effect.succeed(r)))
        post({ t: "accept", req, headers: { ...headers }, body })
      })

    return IntakeThread.of({
      listen,
      intake: WebhookIntake.of({
        precheck: (headers) => Option.fromNullishOr(precheckHeaders(headers)),
        accept,
        pending: Effect.sync(() => outstanding)
      }),
      stats: Effect.sync(() => ({
        ...counts,
        replayed,
        pending: outstanding,
        restarts,
        adopted: adoptedTotal,
        lastRestartAt,
        lastError
      })),
      killThread: Effect.promise(() => worker.terminate()).pipe(Effect.asVoid),
      crashThread: (message) => Effect.sync(() => post({ t: "crash", message })),
      loopDelay: Effect.sync(() => loopDelay)
    })
  })

  /** The threaded intake, providing IntakeThread and WebhookIntake; needs WebhookBatchSink and Metrics. */
  static readonly layer = (options: IntakeThreadOptions) => {
    const thread = Layer.effect(IntakeThread, IntakeThread.make(options))
    return Layer.effect(
      WebhookIntake,
      Effect.map(Effect.service(IntakeThread), (t) => t.intake)
    ).pipe(Layer.provideMerge(thread))
  }
}

const yieldToIo = Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))

const keyOf = (d: WebhookDelivery) => dedupKey(d.shop, webhookStreamName(d.topic), d.eventId)
