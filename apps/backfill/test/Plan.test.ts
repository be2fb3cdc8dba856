import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Warehouse } from "@kura/warehouse"
import { Context, Effect, Layer } from "effect"
import { describe, expect, it } from "vitest"
import { BackfillConfigError, parseBackfillConfig } from "../src/BackfillConfig.js"
import { storageLayer } from "../src/Cli.js"
import {
  LIGHTSPEED_MAX_RANGE_MILLIS,
  makePlan,
  parseInstant,
  parseWindowLength,
  shareOf
} from "../src/Plan.js"

const DAY = 86_400_000
const from = Date.parse("2019-01-01T00:00:00Z")
const to = Date.parse("2026-11-26T13:45:12Z")

describe("Plan", () => {
  it("cuts [from, to) into contiguous windows with no gap or overlap", () => {
    const plan = makePlan({
      source: "shopify",
      streams: ["orders", "customers"],
      from,
      to,
      windowMillis: 30 * DAY
    })
    for (const stream of ["orders", "customers"]) {
      const ws = plan.windows.filter((w) => w.stream === stream)
      expect(ws[0]?.start).toBe(from)
      expect(ws.at(-1)?.end).toBe(to)
      for (let i = 1; i < ws.length; i++) expect(ws[i]?.start).toBe(ws[i - 1]?.end)
      for (const w of ws) expect(w.end - w.start).toBeLessThanOrEqual(30 * DAY)
    }
    expect(new Set(plan.windows.map((w) => w.id)).size).toBe(plan.windows.length)
    expect(plan.windows.map((w) => w.index)).toEqual(plan.windows.map((_, i) => i))
  })

  it("keeps finished windows' identity when a resume runs with a later end", () => {
    const a = makePlan({ source: "shopify", streams: ["orders"], from, to, windowMillis: 30 * DAY })
    const b = makePlan({
      source: "shopify",
      streams: ["orders"],
      from,
      to: to + 5 * DAY,
      windowMillis: 30 * DAY
    })
    const ids = new Set(b.windows.map((w) => w.id))
    expect(a.windows.slice(0, -1).every((w) => ids.has(w.id))).toBe(true)
  })

  it("caps Lightspeed ranges at 365 days", () => {
    const plan = makePlan({ source: "lightspeed", streams: ["sales"], from, to, windowMillis: 1000 * DAY })
    expect(plan.windowMillis).toBe(LIGHTSPEED_MAX_RANGE_MILLIS)
    expect(plan.windows.every((w) => w.end - w.start <= LIGHTSPEED_MAX_RANGE_MILLIS)).toBe(true)
  })

  it("shares windows over tasks disjointly and completely", () => {
    const plan = makePlan({ source: "shopify", streams: ["orders"], from, to, windowMillis: 7 * DAY })
    const shares = [0, 1, 2].map((i) => shareOf(plan.windows, i, 3))
    const all = shares.flat().map((w) => w.id)
    expect(all.length).toBe(plan.windows.length)
    expect(new Set(all).size).toBe(plan.windows.length)
    expect(
      Math.max(...shares.map((s) => s.length)) - Math.min(...shares.map((s) => s.length))
    ).toBeLessThanOrEqual(1)
  })

  it("parses window lengths and instants", () => {
    expect(parseWindowLength("30d")).toBe(30 * DAY)
    expect(parseWindowLength("12h")).toBe(12 * 3_600_000)
    expect(parseWindowLength("2w")).toBe(14 * DAY)
    expect(parseWindowLength("0d")).toBeUndefined()
    expect(parseWindowLength("month")).toBeUndefined()
    expect(parseInstant("2019-01-01", 0)).toBe(from)
    expect(parseInstant("2019-02-30", 0)).toBeUndefined()
    expect(parseInstant("now", 42)).toBe(42)
  })
})

describe("BackfillConfig", () => {
  it("lists every problem at once", () => {
    const r = parseBackfillConfig(
      {
        source: "shopify",
        streams: ["ordrs"],
        from: undefined,
        to: "yesterday",
        window: "1 month",
        concurrency: 0,
        dryRun: false,
        resume: true,
        restart: true
      },
      { KURA_WAREHOUSE: "postgres://x", CLOUD_RUN_TASK_INDEX: "3", CLOUD_RUN_TASK_COUNT: "3" },
      Date.now()
    )
    expect(r).toBeInstanceOf(BackfillConfigError)
    const fields = (r as BackfillConfigError).problems.map((p) => p.field)
    for (const f of [
      "[streams]",
      "--from",
      "--to",
      "--window",
      "--concurrency",
      "--resume/--restart",
      "CLOUD_RUN_TASK_INDEX",
      "KURA_WAREHOUSE",
      "SHOPIFY_SHOP",
      "SHOPIFY_ACCESS_TOKEN"
    ])
      expect(fields).toContain(f)
    expect((r as BackfillConfigError).message).toContain("--from: missing")
  })

  it("accepts a complete setup and reads the Cloud Run task", () => {
    const r = parseBackfillConfig(
      {
        source: "shopify",
        streams: [],
        from: "2019-01-01",
        to: undefined,
        window: undefined,
        concurrency: undefined,
        dryRun: true,
        resume: false,
        restart: false
      },
      {
        SHOPIFY_SHOP: "kura.myshopify.com",
        SHOPIFY_ACCESS_TOKEN: "shpat_x",
        CLOUD_RUN_TASK_INDEX: "1",
        CLOUD_RUN_TASK_COUNT: "3"
      },
      Date.now()
    )
    if (r instanceof BackfillConfigError) throw new Error(r.message)
    expect(r.streams).toEqual(["orders"])
    expect(r.task).toEqual({ index: 1, count: 3 })
    expect(r.windowMillis).toBe(30 * DAY)
    expect(r.to).toBeNull()
    expect(r.duckDbConnections).toBeUndefined()
  })

  it("reads KURA_DUCKDB_CONNECTIONS (1 to 8), opens the warehouse on that many, and names a bad value with its fix", async () => {
    const args = {
      source: "shopify",
      streams: [],
      from: "2019-01-01",
      to: undefined,
      window: undefined,
      concurrency: undefined,
      dryRun: true,
      resume: false,
      restart: false
    }
    const env = { SHOPIFY_SHOP: "kura.myshopify.com", SHOPIFY_ACCESS_TOKEN: "shpat_x" }
    const ok = parseBackfillConfig(args, { ...env, KURA_DUCKDB_CONNECTIONS: "2" }, Date.now())
    if (ok instanceof BackfillConfigError) throw new Error(ok.message)
    expect(ok.duckDbConnections).toBe(2)
    // What DuckDB itself counts once the backfill's warehouse is open.
    const dir = mkdtempSync(join(tmpdir(), "kura-backfill-connections-"))
    try {
      const open = await Effect.runPromise(
        Effect.scoped(
          Effect.gen(function* () {
            const storage = storageLayer(
              { ...ok, warehouse: `duckdb:${dir}/kura.duckdb`, lake: `file:${dir}/lake` },
              {}
            )
            const w = Context.get(yield* Layer.build(storage), Warehouse)
            return yield* w.query("SELECT * FROM duckdb_connection_count()")
          })
        )
      )
      expect(Object.values(open[0] ?? {}).map(Number)).toEqual([2])
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
    for (const bad of ["0", "9", "many", "2.5"]) {
      const r = parseBackfillConfig(args, { ...env, KURA_DUCKDB_CONNECTIONS: bad }, Date.now())
      expect(r, bad).toBeInstanceOf(BackfillConfigError)
      const problems = (r as BackfillConfigError).problems
      expect(problems.map((p) => p.field)).toEqual(["KURA_DUCKDB_CONNECTIONS"])
      expect(problems[0]?.fix).toContain("from 1 to 8")
    }
  })
})
