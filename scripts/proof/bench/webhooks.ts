/**
 * Webhook intake benchmark: throughput and latency of `POST /webhooks/shopify` with valid HMACs
 * (every request a distinct event id and a distinct REST-shaped order), driven by autocannon on
 * loopback against a real `kura-sync serve` (DuckDB + local lake, shop facts from an in-process
 * sandbox Shopify). Two runs in the same process, one after the other on the same machine:
 *   - baseline: `KURA_WEBHOOK_MODE=per-delivery` (the session-1 path: one lake object per delivery);
 *   - batched: the default path (write-ahead log, one lake object + raw load + canonical upsert per batch).
 * Targets (batched): ≥ 3,000 accepted/s with p99 ≤ 50 ms. After each run the server gets SIGTERM
 * (which lands everything accepted), then the warehouse is opened: every accepted delivery must be
 * in `_kura_raw` and, for the batched run, in the canonical `orders` table. Timings are printed,
 * never asserted; the exit code only reflects lost deliveries.
 * The server's own event-loop delay (p99 and longest wait, from `/metrics`) is printed beside the
 * client's latencies: on a shared machine it separates waiting on our event loop from waiting
 * for a CPU.
 * Usage: `npx node scripts/proof/bench/webhooks.ts [--quick] [--batched-only] [--modes a,b,…]` (or
 * KURA_BENCH_QUICK=1; ≤ 15 s). `--batched-only` skips the baseline; `--modes in-thread,batched`
 * runs the listed modes in order (`in-thread`: the batching path with intake and landing on one
 * thread, as in session 3; `batched`: the default, intake on its own thread), for A/B runs.
 */
import { createHmac, randomBytes } from "node:crypto"
import { readFileSync } from "node:fs"
import os from "node:os"
import path from "node:path"
import { startSandbox } from "@kura/sandbox"
import { DuckDbWarehouse, Warehouse } from "@kura/warehouse"
import autocannon from "autocannon"
import { Effect } from "effect"
import { lakeRecords, registerSecrets, startServe, workDir } from "../lib.ts"

const quick = process.argv.includes("--quick") || process.env.KURA_BENCH_QUICK === "1"
const seconds = quick ? 3 : 20
const batchedOnly = process.argv.includes("--batched-only")
type Mode = "per-delivery" | "in-thread" | "batched"
const MODES: ReadonlyArray<Mode> = ["per-delivery", "in-thread", "batched"]
const modesFlag = process.argv.indexOf("--modes")
/** `--modes in-thread,batched` picks the runs (in order, repeats allowed) for A/B comparisons. */
const modes: ReadonlyArray<Mode> =
  modesFlag >= 0
    ? (process.argv[modesFlag + 1] ?? "").split(",").flatMap((m) => MODES.filter((k) => k === m.trim()))
    : batchedOnly
      ? ["batched"]
      : ["per-delivery", "batched"]
if (modes.length === 0) throw new Error(`--modes takes a comma-separated list of ${MODES.join(", ")}`)
const connections = 32
const webhookSecret = `whsec_${randomBytes(16).toString("hex")}`
const triggerSecret = `trig_${randomBytes(16).toString("hex")}`
registerSecrets("bench-webhooks", [webhookSecret, triggerSecret])
const result = (r: Record<string, unknown>) => console.log(`KURA_BENCH_RESULT ${JSON.stringify(r)}`)

// Only the shop facts (time zone, currency, online location) are read from it.
const sandbox = await startSandbox({ seed: 7, scale: 5, historyDays: 2 })
const shop = sandbox.shopify.credentials.shopDomain

const money = (amount: string) => ({
  shop_money: { amount, currency_code: "JPY" },
  presentment_money: { amount, currency_code: "JPY" }
})
/** A REST `orders/create` body, as Shopify sends it. */
const orderBody = (id: number) =>
  JSON.stringify({
    id,
    name: `#${id}`,
    created_at: "2026-11-26T01:00:00Z",
    updated_at: "2026-11-26T01:00:00Z",
    currency: "JPY",
    financial_status: "paid",
    source_name: "web",
    subtotal_price_set: money("2200"),
    total_price_set: money("2200"),
    total_tax_set: money("200"),
    line_items: [
      {
        id: id * 10 + 1,
        variant_id: 501,
        product_id: 50,
        sku: "MATCHA-30G",
        title: "Matcha",
        variant_title: "30g",
        quantity: 2,
        price_set: money("1100"),
        tax_lines: [{ title: "JCT", rate: 0.1, price: "200", price_set: money("200") }]
      }
    ]
  })

/** User + system CPU seconds of a process so far (Linux /proc; clock ticks are 100 Hz). */
const cpuSeconds = (pid: number | undefined): number => {
  if (pid === undefined) return Number.NaN
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? []
    return (Number(fields[11]) + Number(fields[12])) / 100
  } catch {
    return Number.NaN
  }
}

/** The sum of a counter over all its label sets in Prometheus text. */
const counter = async (url: string, name: string): Promise<number> => {
  const text = await (await fetch(`${url}/metrics`)).text()
  return text
    .split("\n")
    .filter((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`))
    .reduce((n, l) => n + Number(l.slice(l.lastIndexOf(" ") + 1)), 0)
}

/** One labelled gauge from Prometheus text, e.g. `name{quantile="0.99"}`. */
const gauge = async (url: string, name: string, labels: string): Promise<number> => {
  const text = await (await fetch(`${url}/metrics`)).text()
  const line = text.split("\n").find((l) => l.startsWith(`${name}{${labels}}`))
  return line === undefined ? Number.NaN : Number(line.slice(line.lastIndexOf(" ") + 1))
}

interface Run {
  readonly mode: string
  /** Deliveries accepted per CPU-second of the server (intake and landing), steadier than wall rates here. */
  readonly perCpuSecond: number
  /** From the end of the load to every accepted delivery landed. */
  readonly landedAfterMs: number
  readonly rps: number
  readonly acceptedPerSec: number
  readonly p50: number
  readonly p99: number
  /** The server's main-thread event-loop delay over its life (ms): p99 and the longest wait. */
  readonly loopP99: number
  readonly loopMax: number
  /** The same for the webhook intake thread (batched mode only; NaN otherwise). */
  readonly intakeLoopP99: number
  readonly intakeLoopMax: number
  readonly statuses: string
  readonly accepted: number
  readonly lake: number
  readonly raw: number
  readonly orders: number
  readonly lost: number
}

const count = (file: string, sql: string) =>
  Effect.runPromise(
    Effect.flatMap(Effect.service(Warehouse), (w) => w.query(sql)).pipe(
      Effect.map((rows) => Number(rows[0]?.n ?? 0)),
      Effect.provide(DuckDbWarehouse.layer({ path: file, migrate: false }))
    )
  )

let idBase = 1_000_000
const runOnce = async (mode: Mode): Promise<Run> => {
  const dir = workDir(`bench-webhooks-${mode}-${Date.now()}`)
  const serve = await startServe(`bench-webhooks-${mode}`, dir, {
    SHOPIFY_SHOP: shop,
    SHOPIFY_ACCESS_TOKEN: sandbox.shopify.credentials.accessToken,
    SHOPIFY_API_BASE_URL: sandbox.shopify.baseUrl,
    SHOPIFY_API_VERSION: sandbox.shopify.credentials.apiVersion,
    SHOPIFY_WEBHOOK_SECRET: webhookSecret,
    KURA_TRIGGER_SECRET: triggerSecret,
    KURA_WEBHOOK_MODE: mode
  })
  const base = idBase
  idBase += 10_000_000
  let seq = 0
  const statuses = new Map<number, number>()
  const pid = serve.captured.child.pid
  const cpuBefore = cpuSeconds(pid)
  const out = await autocannon({
    url: `${serve.url}/webhooks/shopify`,
    connections,
    duration: seconds,
    requests: [
      {
        method: "POST",
        setupRequest: (req: Record<string, unknown>) => {
          const id = base + ++seq
          const body = orderBody(id)
          return {
            ...req,
            body,
            headers: {
              "content-type": "application/json",
              "x-shopify-shop-domain": shop,
              "x-shopify-topic": "orders/create",
              "x-shopify-api-version": "2026-01",
              "x-shopify-event-id": `bench-${id}`,
              "x-shopify-webhook-id": `wh-${id}`,
              "x-shopify-hmac-sha256": createHmac("sha256", webhookSecret).update(body).digest("base64")
            }
          }
        },
        onResponse: (status: number) => {
          statuses.set(status, (statuses.get(status) ?? 0) + 1)
        }
      }
    ]
  })
  const accepted = statuses.get(200) ?? 0
  const loadEnded = Date.now()
  const landedBy = Date.now() + 120_000
  while ((await counter(serve.url, "kura_webhooks_landed_total")) < accepted && Date.now() < landedBy)
    await new Promise((r) => setTimeout(r, 50))
  const landedAfterMs = Date.now() - loadEnded
  const cpu = cpuSeconds(pid) - cpuBefore
  const loopP99 = (await gauge(serve.url, "kura_event_loop_delay_seconds", 'quantile="0.99"')) * 1000
  const loopMax = (await gauge(serve.url, "kura_event_loop_delay_seconds", 'quantile="1"')) * 1000
  const intakeLoopP99 =
    (await gauge(serve.url, "kura_webhook_intake_loop_delay_seconds", 'quantile="0.99"')) * 1000
  const intakeLoopMax =
    (await gauge(serve.url, "kura_webhook_intake_loop_delay_seconds", 'quantile="1"')) * 1000
  await serve.stop()
  const db = path.join(dir, "kura.duckdb")
  const lake = new Set(
    (await lakeRecords(serve.lakeDir))
      .filter((l) => !l.file.includes("_state"))
      .map((l) => (JSON.parse(l.line) as { event_id: string }).event_id)
  ).size
  const raw =
    mode !== "per-delivery"
      ? await count(
          db,
          `SELECT count(DISTINCT source_id) AS n FROM _kura_raw WHERE stream = 'webhook.orders_create'`
        )
      : lake
  const orders =
    mode !== "per-delivery"
      ? await count(db, `SELECT count(*) AS n FROM orders WHERE source_account = '${shop}'`)
      : 0
  // A request in flight when autocannon stops may land without its answer being counted, so the
  // warehouse can hold slightly more than `accepted`; fewer would be a lost delivery.
  const lost = Math.max(0, accepted - lake, accepted - raw, mode !== "per-delivery" ? accepted - orders : 0)
  return {
    mode,
    perCpuSecond: Math.round(accepted / cpu),
    landedAfterMs,
    rps: Math.round(out.requests.average),
    acceptedPerSec: Math.round(accepted / seconds),
    p50: out.latency.p50,
    p99: out.latency.p99,
    loopP99,
    loopMax,
    intakeLoopP99,
    intakeLoopMax,
    statuses: [...statuses].map(([s, n]) => `${s}×${n}`).join(" "),
    accepted,
    lake,
    raw,
    orders,
    lost
  }
}

console.log(
  `webhooks: ${os.cpus().length}× ${os.cpus()[0]?.model ?? "cpu"}, Node ${process.version}, ${connections} connections, ${seconds} s per run, load ${os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(" ")}`
)
const runs: Array<Run> = []
try {
  for (const mode of modes) {
    const before = os.loadavg()[0] ?? 0
    const r = await runOnce(mode)
    runs.push(r)
    const intake = Number.isNaN(r.intakeLoopP99)
      ? ""
      : `, intake thread p99 ${r.intakeLoopP99.toFixed(0)} ms, max ${r.intakeLoopMax.toFixed(0)} ms`
    console.log(
      `webhooks ${r.mode}: ${r.rps} req/s, accepted ${r.acceptedPerSec}/s (${r.perCpuSecond} per server CPU-s), p50 ${r.p50} ms, p99 ${r.p99} ms (event-loop delay: main p99 ${r.loopP99.toFixed(0)} ms, max ${r.loopMax.toFixed(0)} ms${intake}), all landed ${r.landedAfterMs} ms after the load; statuses ${r.statuses}; accepted ${r.accepted}, lake ${r.lake}, _kura_raw ${r.raw}${r.mode !== "per-delivery" ? `, orders ${r.orders}` : ""}${r.lost > 0 ? `; ${r.lost} LOST` : ""}; load ${before.toFixed(1)} → ${(os.loadavg()[0] ?? 0).toFixed(1)}`
    )
  }
} finally {
  await sandbox.close()
}
const batched = runs.findLast((r) => r.mode === "batched")
const baseline = runs.find((r) => r.mode === "per-delivery")
if (batched !== undefined) {
  console.log(
    `webhooks: ${baseline === undefined ? "" : `batched accepts ${(batched.acceptedPerSec / Math.max(1, baseline.acceptedPerSec)).toFixed(1)}× the baseline's deliveries per second, ${(batched.perCpuSecond / Math.max(1, baseline.perCpuSecond)).toFixed(1)}× per server CPU-s `}(target ≥ 3000/s: ${batched.acceptedPerSec >= 3000 ? "met" : "NOT met"}; p99 ≤ 50 ms: ${batched.p99 <= 50 ? "met" : "NOT met"}; load ${os.loadavg()[0]?.toFixed(1)})`
  )
  result({
    figure: "webhooks accepted/s (batched)",
    value: batched.acceptedPerSec,
    unit: "/s",
    target: "≥ 3000, p99 ≤ 50 ms",
    met: batched.acceptedPerSec >= 3000 && batched.p99 <= 50,
    p50: batched.p50,
    p99: batched.p99,
    perCpuSecond: batched.perCpuSecond,
    landedAfterMs: batched.landedAfterMs,
    loopDelayP99Ms: Math.round(batched.loopP99),
    loopDelayMaxMs: Math.round(batched.loopMax),
    intakeLoopDelayP99Ms: Math.round(batched.intakeLoopP99),
    intakeLoopDelayMaxMs: Math.round(batched.intakeLoopMax),
    load: os.loadavg()[0],
    ...(baseline === undefined
      ? {}
      : { baselineAcceptedPerSec: baseline.acceptedPerSec, baselinePerCpuSecond: baseline.perCpuSecond }),
    inWarehouse: { raw: batched.raw, orders: batched.orders, accepted: batched.accepted }
  })
}
const lost = runs.reduce((n, r) => n + r.lost, 0)
process.exit(lost === 0 && runs.every((r) => r.accepted > 0) ? 0 : 1)
