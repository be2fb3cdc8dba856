/**
 * `kura-sync tie-out` through the BUILT app against the sandbox, whose Shopify emulator answers
 * ShopifyQL from its own store model: a fresh sync ties every day; an order lost from the
 * warehouse afterwards is found on its day, with its count and total, and fails the command.
 */
import { execFile } from "node:child_process"
import { readFileSync } from "node:fs"
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { promisify } from "node:util"
import { CloudLogFilter } from "@kura/core"
import { DuckDbWarehouse, Warehouse } from "@kura/warehouse"
import { Effect, Schema } from "effect"
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest"
import { spawnEnv } from "./support.js"

const main = join(inject("builtAppDir"), "main.js")
let dir: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "kura-sync-tie-out-"))
}, 120_000)
afterAll(() => rm(dir, { recursive: true, force: true }))

const ORDERS = 120
const SHOP = "kura-sandbox.myshopify.com"
const env = () => ({
  ...spawnEnv(),
  HOME: dir,
  KURA_SANDBOX: "1",
  KURA_SANDBOX_SCALE: String(ORDERS),
  KURA_SANDBOX_HISTORY_DAYS: "14",
  KURA_SANDBOX_ANCHOR: "2026-08-25",
  KURA_SANDBOX_TIME_SCALE: "20",
  KURA_WAREHOUSE: `duckdb:${join(dir, "kura.duckdb")}`,
  KURA_LAKE: `file:${join(dir, "lake")}`,
  KURA_STATE_DIR: join(dir, "state")
})
const kuraSync = async (args: ReadonlyArray<string>, extra: Record<string, string> = {}) => {
  try {
    const r = await promisify(execFile)(process.execPath, [main, ...args], {
      env: { ...env(), ...extra },
      cwd: dir,
      maxBuffer: 64 * 1024 * 1024
    })
    return { code: 0, stdout: r.stdout, stderr: r.stderr }
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string }
    return { code: err.code ?? -1, stdout: err.stdout ?? "", stderr: err.stderr ?? "" }
  }
}

interface Day {
  readonly day: string
  readonly status: string
  readonly shopify: { readonly orders: number; readonly totalSales: string }
  readonly warehouse: { readonly orders: number; readonly totalSales: string }
  readonly ordersDifference: number
  readonly totalSalesDifference: string
  readonly causes: ReadonlyArray<string>
}
const RANGE = ["--since", "2026-08-01", "--until", "2026-08-31"]

/** The deploy guide's alert on a differing tie-out (DEPLOY.md §10). */
const policy = Schema.decodeUnknownSync(CloudLogFilter.LogMatchPolicy)(
  JSON.parse(
    readFileSync(new URL("../deploy/monitoring/tie-out-differs.policy.json", import.meta.url), "utf8")
  )
)
const JOB = { type: "cloud_run_job", labels: { job_name: "kura-tie-out" } }
/** The alert's hits among the JSON log lines a command wrote (stderr: stdout is its document). */
const alerts = (stderr: string) => {
  const condition = policy.conditions[0].conditionMatchedLog
  return stderr
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => CloudLogFilter.entryOf(l, JOB))
    .filter((e) => CloudLogFilter.matches(condition.filter, e))
    .map((e) => ({
      stream: CloudLogFilter.extract(condition.labelExtractors.stream as string, e),
      payload: e.jsonPayload
    }))
}
const reportOf = (stdout: string): { tied: boolean; zone: string; days: ReadonlyArray<Day> } => {
  let reports: unknown
  try {
    reports = JSON.parse(stdout)
  } catch {
    throw new Error(`not one JSON document:\n${stdout.slice(-2000)}`)
  }
  expect(reports).toHaveLength(1)
  return (reports as Array<{ tied: boolean; zone: string; days: ReadonlyArray<Day> }>)[0] as {
    tied: boolean
    zone: string
    days: ReadonlyArray<Day>
  }
}

describe("kura-sync tie-out (sandbox)", () => {
  it("a fresh sync ties every day to Shopify's sales report; a lost order is found on its day", async () => {
    const run = await kuraSync(["run", "--source", "shopify", "--force"])
    expect(run.code, run.stderr).toBe(0)

    // As a Cloud Run Job logs (JSON lines): the document stays alone on stdout, and no alert.
    const tied = await kuraSync(["tie-out", ...RANGE, "--json"], { KURA_LOG_FORMAT: "json" })
    expect(tied.code, tied.stderr).toBe(0)
    expect(alerts(tied.stderr)).toEqual([])
    expect(tied.stderr).toContain('"message":"tie-out tied"')
    const report = reportOf(tied.stdout)
    expect(report.tied).toBe(true)
    expect(report.days).toHaveLength(31)
    expect(report.days.every((d) => d.status === "tied")).toBe(true)
    // Every synced order is on one of the days, and the days hold money.
    expect(report.days.reduce((n, d) => n + d.shopify.orders, 0)).toBe(ORDERS)
    expect(report.days.filter((d) => d.shopify.orders > 0).length).toBeGreaterThan(5)

    // Lose one order from the warehouse (as a faulty load would): its day differs by it alone.
    const lost = await Effect.runPromise(
      Effect.gen(function* () {
        const w = yield* Warehouse
        const [row] = yield* w.query(
          `SELECT source_id, CAST(total AS VARCHAR) AS total, CAST(COALESCE(processed_at, created_at) AS VARCHAR) AS at FROM orders WHERE source = 'shopify' AND cancelled_at IS NULL AND NOT EXISTS (SELECT 1 FROM refunds r WHERE r.order_id = orders.source_id) ORDER BY source_id LIMIT 1`
        )
        yield* w.query(
          `DELETE FROM orders WHERE source = 'shopify' AND source_id = '${String(row?.source_id)}' RETURNING 1`
        )
        return { total: String(row?.total), at: String(row?.at) }
      }).pipe(Effect.provide(DuckDbWarehouse.layer({ path: join(dir, "kura.duckdb") })))
    )
    const broken = await kuraSync(["tie-out", ...RANGE, "--json"], { KURA_LOG_FORMAT: "json" })
    expect(broken.code).toBe(1)
    const after = reportOf(broken.stdout)
    expect(after.tied).toBe(false)
    const differing = after.days.filter((d) => d.status !== "tied")
    expect(differing).toHaveLength(1)
    const [day] = differing
    expect(day?.status).toBe("differs")
    expect(day?.ordersDifference).toBe(1)
    expect(Number(day?.totalSalesDifference)).toBe(Number(lost.total))
    expect(day?.causes.join("\n")).toContain(
      "1 order(s) placed this day are in Shopify's report and not in the warehouse"
    )
    // The alert fires once, naming the shop and the day.
    const fired = alerts(broken.stderr)
    expect(fired).toHaveLength(1)
    expect(fired[0]?.stream).toBe(`shopify/${SHOP}/tie-out`)
    expect(fired[0]?.payload).toMatchObject({ firstDifferingDay: day?.day, differingDays: 1 })

    // The table form names the day and its difference; bad dates are a configuration error.
    const table = await kuraSync(["tie-out", ...RANGE])
    expect(table.code).toBe(1)
    expect(table.stdout).toContain(`shopify ${SHOP}: 2026-08-01 .. 2026-08-31 (${report.zone}`)
    expect(table.stdout).toContain("30 day(s) tied, 1 differ")
    expect(table.stdout).toContain(`${day?.day}  differs`)
    const bad = await kuraSync(["tie-out", "--since", "2026-13-01"])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain("--since")
    // Only --since, after the default --until (yesterday in the shop's zone): an empty range.
    const empty = await kuraSync(["tie-out", "--since", "2099-01-01"])
    expect(empty.code).toBe(2)
    expect(empty.stderr).toMatch(/--since: the range 2099-01-01 \.\. \d{4}-\d{2}-\d{2} is empty/)
  }, 240_000)
})
