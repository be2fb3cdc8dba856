import { createHmac, createSign, generateKeyPairSync } from "node:crypto"
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { CheckpointStore } from "@kura/core"
import { DuckDbWarehouse, type Warehouse } from "@kura/warehouse"
import { Effect, Layer, Logger, Option, Redacted } from "effect"
import type { OAuth2Client } from "google-auth-library"
import { inject } from "vitest"
import type { SourceName } from "../src/AppConfig.js"
import { startHttpService } from "../src/HttpService.js"
import { LeaseManager } from "../src/LeaseManager.js"
import { Metrics } from "../src/Metrics.js"
import { RunLedger } from "../src/RunLedger.js"
import { StreamRunner } from "../src/StreamRunner.js"
import { SyncError, type SyncStream } from "../src/SyncStream.js"
import { TriggerAuth } from "../src/TriggerAuth.js"
import { WebhookIntake } from "../src/WebhookIntake.js"
import { type WebhookDelivery, WebhookSink } from "../src/WebhookSink.js"

/**
 * The base environment of a built kura-sync a test starts: PATH, and Node's compile cache
 * (NODE_COMPILE_CACHE, one folder per test run), so each start after the first loads Effect's and
 * our modules' compiled code instead of compiling them again: about a quarter of a start's CPU, and
 * the suite starts kura-sync dozens of times. It changes no behaviour of the app.
 */
export const spawnEnv = (): Record<string, string> => ({
  PATH: process.env.PATH ?? "",
  NODE_COMPILE_CACHE: inject("compileCacheDir")
})

/**
 * Reads a proxied request's body and forwards the request to `origin` (same method, path and
 * headers, less the hop's own), answering with the upstream's response: the test proxies in front
 * of the sandbox record or rewrite what passes.
 */
export const forwardRequest = async (
  origin: string,
  req: IncomingMessage
): Promise<{ readonly body: Buffer; readonly answer: Response }> => {
  const chunks: Array<Buffer> = []
  for await (const c of req) chunks.push(c as Buffer)
  const body = Buffer.concat(chunks)
  const headers: Record<string, string> = {}
  for (const [k, v] of Object.entries(req.headers))
    if (typeof v === "string" && k !== "host" && k !== "content-length") headers[k] = v
  const answer = await fetch(`${origin}${req.url}`, {
    method: req.method ?? "GET",
    headers,
    ...(body.length > 0 ? { body } : {})
  })
  return { body, answer }
}

/** A plain node:http server on 127.0.0.1:0. */
export const listen = async (handler: (req: IncomingMessage, res: ServerResponse) => void) => {
  const server = createServer(handler)
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve()))
  }
}

/** A stream that sleeps (real time) and counts its runs. */
export const slowStream = (name: string, ms: number, rows = 7): SyncStream & { runs: number } => {
  const stream = {
    key: { source: "demo" as const, account: "test", stream: name },
    intervalMs: 60_000,
    runs: 0,
    run: () =>
      Effect.gen(function* () {
        stream.runs++
        yield* Effect.sleep(ms)
        return { rows, reconciliation: "ok" as const }
      })
  }
  return stream
}

/**
 * Polls `check` every 20 ms until it holds. The deadline is generous on purpose: the official CI
 * shares its box with other jobs (load 10-20), where a fixed sleep standing in for "until X" flakes.
 */
export const eventually = async (
  check: () => boolean | Promise<boolean>,
  ms = 20_000,
  what = "condition"
): Promise<void> => {
  const until = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`${what} not met within ${ms} ms`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

/** A promise the test settles by hand (`open()`), for "hold until I say so". */
export const manualGate = () => {
  let open: () => void = () => {}
  const promise = new Promise<void>((resolve) => {
    open = resolve
  })
  return { promise, open }
}

/**
 * A stream whose runs hold until the test calls `release()` (and then all finish at once). "Still
 * running" is then a fact, not a guess that a 300 ms sleep outlasts the test's next request.
 */
export const gatedStream = (name: string, rows = 7, source: SourceName = "demo") => {
  const gate = manualGate()
  const stream = {
    key: { source, account: "test", stream: name },
    intervalMs: 60_000,
    runs: 0,
    finished: 0,
    release: gate.open,
    run: () =>
      Effect.gen(function* () {
        stream.runs++
        yield* Effect.promise(() => gate.promise)
        stream.finished++
        return { rows, reconciliation: "ok" as const }
      })
  }
  return stream
}

/** How many runs of demo/test/`stream` finished with `status`, as GET /metrics counts them. */
export const finishedRuns = async (url: string, stream: string, status = "succeeded") => {
  const text = await (await fetch(`${url}/metrics`)).text()
  const line = text
    .split("\n")
    .find((l) =>
      l.startsWith(
        `kura_sync_runs_total{source="demo",account="test",stream="${stream}",status="${status}"} `
      )
    )
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(" ") + 1))
}

export interface TestServer {
  readonly url: string
  readonly deliveries: ReadonlyArray<WebhookDelivery>
}

/** Runs `f` against a real HTTP service with in-memory state, then shuts it down. */
export const withServer = (
  options: {
    readonly streams?: ReadonlyArray<SyncStream>
    readonly webhookSecret?: string
    /** The shop the webhook secret belongs to (default kura-matcha.myshopify.com). */
    readonly shop?: string
    readonly triggerSecret?: string
    readonly audience?: string
    readonly allowedEmails?: ReadonlyArray<string>
    readonly protectStatus?: boolean
    readonly oauthClient?: OAuth2Client
    /** Makes every landing wait until this settles: "not landed yet" without a timed guess. */
    readonly sinkGate?: Promise<void>
    readonly queueCapacity?: number
    readonly workers?: number
    /**
     * Also provide a warehouse (what /metrics reads the engine's memory from): `true` for an
     * in-memory DuckDB one, or a layer of its own.
     */
    readonly warehouse?: boolean | Layer.Layer<Warehouse, unknown>
  },
  f: (server: TestServer) => Promise<void>
): Promise<void> => {
  const memory = WebhookSink.makeMemory()
  const services = Layer.mergeAll(
    TriggerAuth.layer({
      secret: Option.map(Option.fromNullishOr(options.triggerSecret), Redacted.make),
      audience: Option.fromNullishOr(options.audience),
      allowedEmails: options.allowedEmails ?? [],
      ...(options.oauthClient === undefined ? {} : { client: options.oauthClient })
    }),
    WebhookIntake.layer({
      ...(options.queueCapacity === undefined ? {} : { queueCapacity: options.queueCapacity }),
      ...(options.workers === undefined ? {} : { workers: options.workers }),
      secretsFor: (shop) =>
        shop === (options.shop ?? "kura-matcha.myshopify.com") && options.webhookSecret
          ? [options.webhookSecret]
          : []
    }).pipe(
      Layer.provide(
        Layer.succeed(
          WebhookSink,
          WebhookSink.of({
            land: (d) =>
              Effect.andThen(
                Effect.promise(() => options.sinkGate ?? Promise.resolve()),
                memory.sink.land(d)
              )
          })
        )
      )
    )
  ).pipe(
    Layer.provideMerge(StreamRunner.layer(options.streams ?? [], 5_000)),
    Layer.provideMerge(
      Layer.mergeAll(
        CheckpointStore.layerMemory,
        RunLedger.layerMemory(),
        LeaseManager.layerMemory,
        Metrics.layer,
        options.warehouse === true
          ? DuckDbWarehouse.layerMemory
          : options.warehouse === undefined || options.warehouse === false
            ? Layer.empty
            : options.warehouse
      )
    )
  )
  return Effect.runPromise(
    Effect.gen(function* () {
      const server = yield* startHttpService({
        port: 0,
        host: "127.0.0.1",
        ...(options.protectStatus === undefined ? {} : { protectStatus: options.protectStatus })
      })
      yield* Effect.promise(() => f({ url: server.url, deliveries: memory.deliveries }))
    }).pipe(
      Effect.scoped,
      Effect.provide(services),
      // Quiet by default; KURA_TEST_LOGS=1 shows the service's logs when debugging a test.
      Effect.provide(process.env.KURA_TEST_LOGS === "1" ? Layer.empty : Logger.layer([]))
    )
  )
}

/** Signs a body the way Shopify does. */
export const shopifyHmac = (secret: string, body: string | Buffer) =>
  createHmac("sha256", secret).update(body).digest("base64")

/** An RSA key pair and a signer of Google-style ID tokens. */
export const makeIdTokenSigner = () => {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 })
  const kid = "test-key-1"
  const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url")
  return {
    kid,
    publicPem: publicKey.export({ type: "spki", format: "pem" }).toString(),
    sign: (claims: Record<string, unknown>) => {
      const head = `${b64({ alg: "RS256", kid, typ: "JWT" })}.${b64(claims)}`
      const signer = createSign("RSA-SHA256")
      signer.update(head)
      return `${head}.${signer.sign(privateKey).toString("base64url")}`
    }
  }
}

/** A stream whose every run fails upstream. */
export const failingStream = (name: string): SyncStream => ({
  key: { source: "demo", account: "test", stream: name },
  intervalMs: 60_000,
  run: () => Effect.fail(new SyncError({ reason: "Upstream", message: "HTTP 503 from upstream" }))
})
