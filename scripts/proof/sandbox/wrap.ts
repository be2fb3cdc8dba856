/**
 * Stand-in for `@kura/sandbox` inside a `kura-sync` process started by the proof scripts (see
 * hook.ts). It re-exports the real package and wraps `startSandbox` so the checks and benches can
 * drive the REAL built `kura-sync run` (KURA_SANDBOX=1) while asking the oracle for things the CLI
 * does not expose:
 *
 * - `KURA_PROOF_SANDBOX_FAULTS=none|flaky|chaos`: the sandbox's fault profile.
 * - `KURA_PROOF_SANDBOX_MUTATE=0.01`: `sandbox.mutate({ fraction })` right after start, so a second
 *   run against the same seed/anchor has 1% changed orders to pick up.
 * - `KURA_PROOF_SANDBOX_TIME_SCALE`, `KURA_PROOF_SANDBOX_PLAN`: clock speed-up and Shopify plan.
 * - `KURA_PROOF_SANDBOX_REPORT=file`: on close, writes the sandbox's own figures (requests served,
 *   faults injected per kind) and, per API call shape, the requests and GraphQL cost points seen by
 *   a recording proxy placed in front of each emulator. The proxy is ours and only counts; the
 *   emulators stay the independent oracle. `callTally(sandbox)` reads the same tally while the
 *   sandbox runs (sandbox/serve.ts answers it on demand, so a bench can diff it per pass).
 *
 * - `KURA_PROOF_SANDBOX_TRACE=file`: with a report file, the counting proxies also append one JSON
 *   line per request answered (`{ api, key, t0, t1, status }`, epoch ms): when each call was made
 *   and how long the emulator took, for tracing a pass (see scripts/proof/traceHook.mjs).
 * - `KURA_PROOF_SECRETS_FILE=file`: appends the sandbox's credentials, for the secrets check.
 * - `KURA_PROOF_SANDBOX_MALFORMED=N`: `malformedPerSource`, `malformedAdjustments` and
 *   `malformedCustomers` (records rendered with a wrongly typed field: N Shopify orders, POS sales,
 *   Stocky purchase orders, Stocky stock adjustments and Shopify customers), and the report then
 *   carries the sandbox's ground truth (`truth`), which counts the injected records.
 * - `KURA_PROOF_SANDBOX_MALFORMED_PRODUCTS=N`: `malformedProducts` (N Shopify products rendered with
 *   an impossible `createdAt`), separate from the above because a shop has only a few dozen
 *   products; with it too the report carries the ground truth.
 *
 * Nothing here changes what `kura-sync` does: it only changes the data source it is pointed at.
 */
import { appendFileSync, writeFileSync } from "node:fs"
import http from "node:http"
import * as real from "../../../packages/sandbox/dist/index.js"

export * from "../../../packages/sandbox/dist/index.js"

type Tally = { requests: number; cost: number; requested: number; throttled: number; bytes: number }
type Log = Map<string, Tally>

const env = process.env
/** Per-request timings of the counting proxies (`KURA_PROOF_SANDBOX_TRACE`), flushed twice a second. */
const traceFile = env.KURA_PROOF_SANDBOX_TRACE
const traced: Array<Record<string, unknown>> = []
const flushTrace = () => {
  if (traceFile && traced.length > 0)
    appendFileSync(
      traceFile,
      traced
        .splice(0)
        .map((t) => `${JSON.stringify(t)}\n`)
        .join("")
    )
}
if (traceFile) setInterval(flushTrace, 500).unref()

/** The first selection of a GraphQL document: `query orders` / `mutation bulkOperationRunQuery`. */
export const rootField = (query: string): string => {
  const text = query.replace(/#[^\n]*/g, "")
  const kind = /^\s*(mutation|subscription)\b/.test(text) ? "mutation" : "query"
  // Skip fragment definitions: the operation is the first `query|mutation|{` block.
  const op = /(?:^|\n|\s)(?:query|mutation|subscription)\b[^{]*\{|^\s*\{/.exec(text)
  const from = op === null ? text.indexOf("{") + 1 : op.index + op[0].length
  const field = /^\s*(?:(\w+)\s*:\s*)?(\w+)/.exec(text.slice(from))
  return `${kind} ${field?.[2] ?? "?"}`
}

/** REST paths with ids folded: `GET /api/2.0/sales/123` → `GET /api/2.0/sales/:id`. */
const restShape = (method: string, url: string): string => {
  const path = url.split("?")[0] ?? url
  return `${method} ${path.replace(/\/\d[\w-]*/g, "/:id").replace(/\/[0-9a-f]{16,}/g, "/:id")}`
}

const tally = (log: Log, key: string): Tally => {
  let t = log.get(key)
  if (t === undefined) {
    t = { requests: 0, cost: 0, requested: 0, throttled: 0, bytes: 0 }
    log.set(key, t)
  }
  return t
}

/** A counting reverse proxy on 127.0.0.1 in front of `target`; links stay relative to the caller. */
const startProxy = async (api: string, target: string, log: Log) => {
  const to = new URL(target)
  const server = http.createServer((req, res) => {
    const chunks: Array<Buffer> = []
    req.on("data", (c: Buffer) => chunks.push(c))
    req.on("end", () => {
      const body = Buffer.concat(chunks)
      const isGraphql = (req.url ?? "").includes("graphql")
      let key = `${api} ${restShape(req.method ?? "GET", req.url ?? "/")}`
      if (isGraphql) {
        try {
          const parsed = JSON.parse(body.toString("utf8")) as { query?: unknown }
          if (typeof parsed.query === "string") key = `${api} ${rootField(parsed.query)}`
        } catch {
          key = `${api} graphql (unparsable body)`
        }
      }
      const t = tally(log, key)
      t.requests++
      const t0 = Date.now()
      if (traceFile)
        res.on("finish", () => traced.push({ api, key, t0, t1: Date.now(), status: res.statusCode }))
      const upstream = http.request(
        {
          host: to.hostname,
          port: to.port,
          method: req.method,
          path: req.url,
          headers: { ...req.headers, host: to.host }
        },
        (up) => {
          const headers = { ...up.headers }
          if (up.statusCode === 429) t.throttled++
          const out: Array<Buffer> = []
          up.on("data", (c: Buffer) => {
            t.bytes += c.length
            if (isGraphql) out.push(c)
            else res.write(c)
          })
          if (!isGraphql) res.writeHead(up.statusCode ?? 502, headers)
          up.on("end", () => {
            if (isGraphql) {
              const text = Buffer.concat(out)
              try {
                const r = JSON.parse(text.toString("utf8")) as {
                  extensions?: { cost?: { actualQueryCost?: number; requestedQueryCost?: number } }
                  errors?: Array<{ extensions?: { code?: string } }>
                }
                t.cost += r.extensions?.cost?.actualQueryCost ?? 0
                t.requested += r.extensions?.cost?.requestedQueryCost ?? 0
                if (r.errors?.some((e) => e.extensions?.code === "THROTTLED")) t.throttled++
              } catch {
                // a corrupted body (fault profile): passed through as is
              }
              res.writeHead(up.statusCode ?? 502, headers)
              res.end(text)
            } else res.end()
          })
          up.on("error", () => res.destroy())
        }
      )
      upstream.on("error", () => res.destroy())
      upstream.end(body)
    })
  })
  server.keepAliveTimeout = 30_000
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const address = server.address()
  const port = typeof address === "object" && address !== null ? address.port : 0
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      })
  }
}

/** The live per-call tally of each wrapped sandbox that has a report file (see `callTally`). */
const tallies = new WeakMap<real.Sandbox, () => Record<string, Tally>>()

/**
 * The counting proxies' tally so far (requests and cost points per call shape, cumulative since
 * start), or undefined when `sandbox` has none (no `KURA_PROOF_SANDBOX_REPORT`). A bench that keeps
 * one sandbox across several passes snapshots it before and after each and takes the difference.
 */
export const callTally = (sandbox: real.Sandbox): Record<string, Tally> | undefined =>
  tallies.get(sandbox)?.()

const rebase = <T>(value: T, from: string, to: string): T =>
  JSON.parse(JSON.stringify(value).replaceAll(from, to)) as T

/** The real `startSandbox`, with the proof's environment applied (see the module comment). */
export const startSandbox = async (options: real.SandboxOptions = {}): Promise<real.Sandbox> => {
  const faults = env.KURA_PROOF_SANDBOX_FAULTS
  const timeScale = env.KURA_PROOF_SANDBOX_TIME_SCALE
  const plan = env.KURA_PROOF_SANDBOX_PLAN
  const malformed = Number(env.KURA_PROOF_SANDBOX_MALFORMED ?? "0")
  const malformedProducts = Number(env.KURA_PROOF_SANDBOX_MALFORMED_PRODUCTS ?? "0")
  const sandbox = await real.startSandbox({
    ...options,
    ...(malformed > 0
      ? { malformedPerSource: malformed, malformedAdjustments: malformed, malformedCustomers: malformed }
      : {}),
    ...(malformedProducts > 0 ? { malformedProducts } : {}),
    ...(faults ? { faults: faults as "chaos" } : {}),
    ...(timeScale ? { timeScale: Number(timeScale) } : {}),
    ...(plan ? { plan: plan as "plus" } : {})
  })
  // The secrets check searches every captured log for these.
  const secretsFile = env.KURA_PROOF_SECRETS_FILE
  if (secretsFile)
    appendFileSync(
      secretsFile,
      [
        sandbox.shopify.credentials.accessToken,
        sandbox.shopify.credentials.clientSecret,
        sandbox.shopify.credentials.webhookSecret,
        sandbox.lightspeed.credentials.clientSecret,
        sandbox.lightspeed.credentials.refreshToken,
        sandbox.stocky.credentials.apiKey
      ]
        .filter((v) => typeof v === "string" && v.length >= 6)
        .map((v) => `${v}\n`)
        .join("")
    )
  const mutate = Number(env.KURA_PROOF_SANDBOX_MUTATE ?? "0")
  const mutated = mutate > 0 ? sandbox.mutate({ fraction: mutate }).length : 0
  const reportFile = env.KURA_PROOF_SANDBOX_REPORT
  if (!reportFile) return sandbox
  const log: Log = new Map()
  const proxies = {
    shopify: await startProxy("shopify", sandbox.shopify.baseUrl, log),
    lightspeed: await startProxy("lightspeed", sandbox.lightspeed.baseUrl, log),
    stocky: await startProxy("stocky", sandbox.stocky.baseUrl, log)
  }
  const endpoint = <C>(e: real.SandboxEndpoint<C>, to: string): real.SandboxEndpoint<C> => ({
    baseUrl: to,
    credentials: rebase(e.credentials, e.baseUrl, to)
  })
  const started = Date.now()
  const snapshot = () => {
    const calls: Record<string, Tally> = {}
    for (const [k, v] of [...log.entries()].sort()) calls[k] = { ...v }
    return calls
  }
  const write = () => {
    const calls = snapshot()
    writeFileSync(
      reportFile,
      `${JSON.stringify(
        {
          seconds: (Date.now() - started) / 1000,
          mutated,
          stats: sandbox.stats(),
          faults: sandbox.faultReport(),
          calls,
          ...(malformed > 0 || malformedProducts > 0 ? { truth: sandbox.groundTruth().counts } : {})
        },
        null,
        2
      )}\n`
    )
  }
  const wrapped: real.Sandbox = {
    ...sandbox,
    shopify: endpoint(sandbox.shopify, proxies.shopify.url),
    lightspeed: endpoint(sandbox.lightspeed, proxies.lightspeed.url),
    stocky: endpoint(sandbox.stocky, proxies.stocky.url),
    close: async () => {
      write()
      flushTrace()
      await Promise.all(Object.values(proxies).map((p) => p.close()))
      await sandbox.close()
    }
  }
  tallies.set(wrapped, snapshot)
  return wrapped
}
