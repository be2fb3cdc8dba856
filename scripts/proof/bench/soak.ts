/**
 * Soak: the real `kura-sync serve` with its own scheduler on, as the Cloud Run service runs, for
 * `--minutes` against the emulators in their own process, while the sandbox's orders keep changing
 * (`mutate` every `--mutate-every` seconds). It answers what a short bench cannot: does the
 * service's memory stay flat pass after pass, does every scheduled run succeed, and does the
 * warehouse still tie to the source at the end.
 *
 *   npx node scripts/proof/bench/soak.ts [--minutes 20] [--scale 10000] [--interval 30s]
 *     [--mutate-every 60] [--fraction 0.002] [--change-after-stop]
 *
 * Every 10 s it samples the serve process's RSS (`/proc/<pid>/status`) and, from its /metrics, the
 * V8 heap in use and reserved, the external memory and DuckDB's own memory (kept in a samples file); it counts each run's end
 * line (`run succeeded|failed|interrupted`) per stream. When the time is up it stops changing the
 * data and waits until every stream has succeeded twice since the last change (the second run
 * began after the first ended, so after the change), stops the service (SIGTERM: the drain), and
 * ties the warehouse to the sandbox's ground truth: live online orders and POS sales, counted and
 * summed (gross, in minor units) as the demo ties them, and every live online order's version
 * (id and `updated_at`) and cancellation, so a missed update shows even where no total moves. Prints a `KURA_BENCH_RESULT {json}` line
 * per figure; exits 1 if a run failed or the tie-out does not hold (`--change-after-stop` changes
 * the orders once more after the service stopped, to show that it then fails). The samples are also
 * drawn as an SVG chart beside them (`soakChart.ts`). Not part of `npm run bench`
 * (it runs for minutes by design).
 */
import { createHash } from "node:crypto"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import path from "node:path"
import { toDecimal, toMinorUnits } from "@kura/core"
import { DuckDbWarehouse, Warehouse } from "@kura/warehouse"
import { Effect } from "effect"
import type { ServeHandle } from "../lib.ts"
import { type Sample, soakChart } from "../soakChart.ts"
import {
  kuraSyncServeApart,
  type RunEnd,
  rssMiB,
  runEndReader,
  type SyncOptions,
  startSandboxApart
} from "../syncRun.ts"

const args = process.argv.slice(2)
const arg = (name: string, fallback: string): string => {
  const at = args.indexOf(`--${name}`)
  return at >= 0 && args[at + 1] !== undefined ? (args[at + 1] as string) : fallback
}
const positive = (name: string, fallback: string): number => {
  const n = Number(arg(name, fallback))
  if (!(n > 0)) throw new Error(`--${name} ${arg(name, fallback)}: use a positive number`)
  return n
}
const minutes = positive("minutes", "20")
const scale = positive("scale", "10000")
const interval = arg("interval", "30s")
const mutateEverySec = positive("mutate-every", "60")
const fraction = positive("fraction", "0.002")
const SECRET = "soak-trigger-secret-0123456789"

/** The V8 heap in use, the external memory and DuckDB's memory, from the service's own /metrics (MiB). */
const metricsMiB = async (url: string): Promise<Omit<Sample, "at" | "rss">> => {
  try {
    const text = await (await fetch(`${url}/metrics`)).text()
    const mib = (bytes: number) => Math.round(bytes / 1048576)
    const gauge = (name: string) => {
      const v = new RegExp(`^${name} (\\d+)$`, "m").exec(text)?.[1]
      return v === undefined ? undefined : mib(Number(v))
    }
    const tags = [...text.matchAll(/^kura_warehouse_engine_memory_bytes\{[^}]*\} ([\d.e+]+)$/gm)]
    const heap = gauge("nodejs_heap_size_used_bytes")
    const heapTotal = gauge("nodejs_heap_size_total_bytes")
    const external = gauge("nodejs_external_memory_bytes")
    return {
      ...(heap === undefined ? {} : { heap }),
      ...(heapTotal === undefined ? {} : { heapTotal }),
      ...(external === undefined ? {} : { external }),
      ...(tags.length === 0 ? {} : { duckdb: mib(tags.reduce((n, m) => n + Number(m[1]), 0)) })
    }
  } catch {
    return {}
  }
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const result = (figure: string, value: unknown, extra: Record<string, unknown> = {}) =>
  console.log(`KURA_BENCH_RESULT ${JSON.stringify({ figure, value, ...extra })}`)

const dir = mkdtempSync(path.join(tmpdir(), "kura-soak-"))
const options: SyncOptions = { scale, historyDays: 90 }
const config = path.join(dir, "kura.json")
writeFileSync(config, `${JSON.stringify({ defaultInterval: interval })}\n`)

const sandbox = await startSandboxApart("soak-sandbox", dir, options)
let failed = false
let service: ServeHandle | undefined
try {
  const serve = await kuraSyncServeApart("soak-serve", dir, options, sandbox, SECRET, {
    scheduler: "on",
    env: { KURA_CONFIG: config }
  })
  service = serve
  const pid = serve.captured.child.pid
  const ends: Array<RunEnd> = []
  const read = runEndReader(serve.captured)
  /** Adds the run end lines logged since the last call. */
  const collect = () => {
    ends.push(...read())
  }
  const started = Date.now()
  console.log(
    `soak: kura-sync serve, scheduler on every ${interval}, ${scale} orders, mutate(${fraction}) every ${mutateEverySec} s, ${minutes} min; dir ${dir}`
  )
  const samples: Array<Sample> = []
  let fullSyncEnded: number | null = null
  let mutations = 0
  let mutatedOrders = 0
  let lastMutation = 0
  let nextMutation = started + mutateEverySec * 1000
  let nextSample = started
  while (Date.now() - started < minutes * 60_000) {
    collect()
    if (serve.captured.child.exitCode !== null || serve.captured.child.signalCode !== null)
      throw new Error(`kura-sync serve exited:\n${serve.captured.output().slice(-3000)}`)
    const now = Date.now()
    if (fullSyncEnded === null && ends.some((e) => e.stream.endsWith("/orders") && e.status === "succeeded"))
      fullSyncEnded = now
    if (now >= nextSample) {
      const rss = rssMiB(pid)
      const parts = await metricsMiB(serve.url)
      if (rss !== null) samples.push({ at: now, rss: Math.round(rss), ...parts })
      nextSample += 10_000
    }
    if (fullSyncEnded !== null && now >= nextMutation) {
      mutatedOrders += Number((await sandbox.ask(`mutate ${fraction}`)).mutated)
      mutations++
      lastMutation = Date.now()
      nextMutation += mutateEverySec * 1000
    }
    await sleep(250)
  }
  // Two successes of every stream since the last change: the second began after it.
  const streams = [...new Set(ends.map((e) => e.stream))]
  const settleDeadline = Date.now() + 15 * 60_000
  for (;;) {
    collect()
    const behind = streams.filter(
      (s) => ends.filter((e) => e.stream === s && e.status === "succeeded" && e.at > lastMutation).length < 2
    )
    if (behind.length === 0) break
    if (Date.now() > settleDeadline) throw new Error(`streams never caught up: ${behind.join(", ")}`)
    await sleep(500)
  }
  const rssEnd = Math.round(rssMiB(pid) ?? Number.NaN)
  await serve.stop()
  collect()
  // The check's own check: a change the stopped service never saw must fail the tie-out.
  if (args.includes("--change-after-stop")) await sandbox.ask(`mutate ${fraction}`)
  const truth = await sandbox.ask("truth")
  const loaded = await Effect.runPromise(
    Effect.gen(function* () {
      const w = yield* Warehouse
      const [row] = yield* w.query(
        "SELECT CAST(COUNT(*) FILTER (WHERE source = 'shopify' AND channel = 'online') AS INTEGER) AS online, CAST(COUNT(*) FILTER (WHERE source = 'lightspeed') AS INTEGER) AS pos, CAST(COALESCE(SUM(total) FILTER (WHERE channel = 'online'), 0) AS VARCHAR) AS online_total, CAST(COALESCE(SUM(total) FILTER (WHERE channel = 'pos'), 0) AS VARCHAR) AS pos_total FROM orders WHERE _deleted_at IS NULL"
      )
      // Each live online order's id and version, to the second, sorted as text, as the sandbox hashes them.
      const versions = (yield* w.query(
        "SELECT source_id || ':' || CAST(floor(epoch(updated_at)) AS BIGINT) AS v, cancelled_at IS NOT NULL AS c FROM orders WHERE source = 'shopify' AND channel = 'online' AND _deleted_at IS NULL"
      )).map((r) => ({ v: String(r.v), c: r.c === true }))
      return {
        totals: row ?? {},
        versions: createHash("sha256")
          .update(
            versions
              .map((x) => x.v)
              .sort()
              .join("\n")
          )
          .digest("hex"),
        cancelled: versions.filter((x) => x.c).length
      }
    }).pipe(Effect.provide(DuckDbWarehouse.layer({ path: path.join(dir, "kura.duckdb"), migrate: false })))
  )
  const currency = String(truth.currency)
  /** A loaded DECIMAL total in minor units of the shop's currency, exactly (no float). */
  const minor = (text: unknown): bigint => toMinorUnits(toDecimal(String(text), "orders.total"), currency)
  const gross = truth.grossMinor as { online: number; pos: number }
  const tie = {
    onlineOrders: [Number(loaded.totals.online), Number(truth.onlineOrders)],
    onlineVersions: [loaded.versions, truth.onlineVersions],
    onlineCancelled: [loaded.cancelled, truth.onlineCancelled],
    posSales: [Number(loaded.totals.pos), Number(truth.posSales)],
    onlineGrossMinor: [String(minor(loaded.totals.online_total)), String(gross.online)],
    posGrossMinor: [String(minor(loaded.totals.pos_total)), String(gross.pos)]
  }
  const tied = Object.values(tie).every(([a, b]) => String(a) === String(b))

  // Figures.
  const byStatus = (status: string) => ends.filter((e) => e.status === status).length
  const perStream = Object.fromEntries(
    streams.map((s) => [s, ends.filter((e) => e.stream === s && e.status === "succeeded").length])
  )
  const steady = samples.filter((x) => fullSyncEnded !== null && x.at >= fullSyncEnded + 60_000)
  /** Least-squares RSS trend of `part` (MiB/h), or null with fewer than 3 samples. */
  const trend = (part: ReadonlyArray<Sample>): number | null => {
    if (part.length < 3) return null
    const xs = part.map((x) => (x.at - (part[0]?.at ?? 0)) / 3_600_000)
    const ys = part.map((x) => x.rss)
    const mx = xs.reduce((a, b) => a + b, 0) / xs.length
    const my = ys.reduce((a, b) => a + b, 0) / ys.length
    const num = xs.reduce((n, x, i) => n + (x - mx) * ((ys[i] ?? 0) - my), 0)
    const den = xs.reduce((n, x) => n + (x - mx) ** 2, 0)
    return den === 0 ? null : Math.round(num / den)
  }
  const slope = trend(steady)
  // Memory that levels off has a second-half trend near 0 whatever the first half's was.
  const halves = [
    trend(steady.slice(0, Math.floor(steady.length / 2))),
    trend(steady.slice(Math.floor(steady.length / 2)))
  ]
  const steadyRss = steady.map((x) => x.rss)
  /** Mean of a figure over the steady period's first and last five minutes. */
  const ends5 = (pick: (x: (typeof samples)[number]) => number | undefined) => {
    const mean = (xs: ReadonlyArray<number>) =>
      xs.length === 0 ? null : Math.round(xs.reduce((a, b) => a + b, 0) / xs.length)
    const first = steady[0]?.at ?? 0
    const last = steady.at(-1)?.at ?? 0
    const values = (keep: (at: number) => boolean) =>
      steady
        .filter((x) => keep(x.at))
        .flatMap((x) => {
          const v = pick(x)
          return v === undefined ? [] : [v]
        })
    return `${mean(values((at) => at < first + 300_000))} → ${mean(values((at) => at > last - 300_000))}`
  }
  result("soak minutes / mutations (orders changed)", `${minutes} / ${mutations} (${mutatedOrders})`)
  result(
    "runs ended: succeeded / failed / interrupted",
    `${byStatus("succeeded")} / ${byStatus("failed")} / ${byStatus("interrupted")}`,
    {
      target: "0 failed",
      met: byStatus("failed") === 0
    }
  )
  result(
    "succeeded runs per stream (min / max)",
    `${Math.min(...Object.values(perStream))} / ${Math.max(...Object.values(perStream))}`
  )
  result(
    "serve RSS MiB: peak during the full sync / steady min / steady max / at the end",
    `${Math.max(...samples.filter((x) => fullSyncEnded === null || x.at <= fullSyncEnded + 60_000).map((x) => x.rss))} / ${Math.min(...steadyRss)} / ${Math.max(...steadyRss)} / ${rssEnd}`
  )
  result("serve RSS trend after the full sync (least squares)", slope, { unit: "MiB/h" })
  result("serve RSS trend, first half / second half of that period", `${halves[0]} / ${halves[1]}`, {
    unit: "MiB/h"
  })
  result(
    "serve MiB, mean of the steady period's first 5 min → last 5 min: RSS / V8 heap used / V8 heap reserved / external / DuckDB",
    `${ends5((x) => x.rss)} / ${ends5((x) => x.heap)} / ${ends5((x) => x.heapTotal)} / ${ends5((x) => x.external)} / ${ends5((x) => x.duckdb)}`
  )
  result("tie-out after the soak (loaded vs ground truth)", JSON.stringify(tie), {
    target: "equal",
    met: tied
  })
  const kept = path.join(tmpdir(), `kura-soak-samples-${started}.json`)
  writeFileSync(kept, `${JSON.stringify(samples)}\n`)
  console.log(`samples (every 10 s: RSS, V8 heap used and reserved, external, DuckDB, MiB): ${kept}`)
  const chart = kept.replace(/\.json$/, ".svg")
  writeFileSync(
    chart,
    soakChart(
      samples,
      `kura-sync serve soak: ${minutes} min, ${scale} orders, runs every ${interval}, mutate(${fraction}) every ${mutateEverySec} s`
    )
  )
  console.log(`chart: ${chart}`)
  failed = !tied || byStatus("failed") > 0
} catch (e) {
  failed = true
  console.error(e instanceof Error ? e.message : String(e))
} finally {
  // A soak that failed part-way still stops its service (drained) before the sandbox.
  await service?.stop()
  await sandbox.close()
  if (!failed && process.env.KURA_SOAK_KEEP !== "1") rmSync(dir, { recursive: true, force: true })
}
process.exit(failed ? 1 : 0)
