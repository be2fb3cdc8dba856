/**
 * The deploy guide's backfill alert (`deploy/monitoring/backfill-failed.policy.json`) against the
 * lines a real backfill writes: runs against the sandbox under the backfill's own Cloud Logging
 * logger, each line turned into the LogEntry a Cloud Run Job's task makes of it, and the policy's
 * filter evaluated on them. A renamed message or label would leave an alert that never fires; this
 * fails first.
 */
import { readFileSync } from "node:fs"
import { CloudLogFilter, layerCloudLogger } from "@kura/core"
import { type Sandbox, startSandbox } from "@kura/sandbox"
import { Effect, Exit, Schema } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { backfillLoggerOptions } from "../src/BackfillLogger.js"
import { runConfigured } from "../src/Cli.js"
import { argsFor, configOf, DAY, envFor, removeTempStores, tempStore } from "./support.js"

const HISTORY_DAYS = 60
const SHOP = "monitoring-test.myshopify.com"

const policy = Schema.decodeUnknownSync(CloudLogFilter.LogMatchPolicy)(
  JSON.parse(
    readFileSync(new URL("../deploy/monitoring/backfill-failed.policy.json", import.meta.url), "utf8")
  )
)
const condition = policy.conditions[0].conditionMatchedLog

/** A Cloud Run Job's task: where kura-backfill runs in production (DEPLOY.md §8). */
const JOB = { type: "cloud_run_job", labels: { job_name: "kura-backfill-shopify" } }
const ON_CLOUD_RUN = {
  CLOUD_RUN_JOB: "kura-backfill-shopify",
  CLOUD_RUN_TASK_INDEX: "0",
  CLOUD_RUN_TASK_COUNT: "1"
}

let sandbox: Sandbox
let from: number

beforeAll(async () => {
  sandbox = await startSandbox({ seed: 5, scale: 300, historyDays: HISTORY_DAYS, timeScale: 120 })
  from = sandbox.groundTruth().anchor - (HISTORY_DAYS + 1) * DAY
})
afterAll(async () => {
  await sandbox?.close()
  removeTempStores()
})

/** Runs a backfill in process under the backfill's Cloud Logging logger; its exit and log entries. */
const loggedRun = async (target: Sandbox, extra: Record<string, string>) => {
  const store = tempStore()
  const env = envFor(target, store, { SHOPIFY_SHOP: SHOP, ...extra })
  const lines: Array<string> = []
  const exit = await Effect.runPromiseExit(
    runConfigured(configOf(argsFor(from), env), env, { isTTY: false, write: () => {} }).pipe(
      Effect.provide(
        layerCloudLogger({ ...backfillLoggerOptions(undefined), write: (l) => void lines.push(l) })
      )
    )
  )
  return { exit, entries: lines.map((l) => CloudLogFilter.entryOf(l, JOB)) }
}

describe("deploy/monitoring: the backfill alert matches what a backfill logs", () => {
  it("a backfill that finishes logs one `backfill finished` line with its counts, and the alert stays quiet", async () => {
    const { exit, entries } = await loggedRun(sandbox, ON_CLOUD_RUN)
    expect(Exit.isSuccess(exit)).toBe(true)
    expect(entries.filter((e) => CloudLogFilter.matches(condition.filter, e))).toHaveLength(0)
    const finished = entries.filter((e) => e.jsonPayload.message === "backfill finished")
    expect(finished).toHaveLength(1)
    const truth = sandbox.groundTruth().counts.onlineOrders
    expect(finished[0]).toMatchObject({
      severity: "INFO",
      labels: { service: "kura-backfill", source: "shopify", account: SHOP, task: "0/1" },
      jsonPayload: { windows: 3, windowsLoaded: 3, windowsSkipped: 0, loaded: truth }
    })
    // Every line of the run carries the run's labels, not only the last.
    for (const e of entries) expect(e.labels).toMatchObject({ source: "shopify", account: SHOP, task: "0/1" })
  })

  it("a backfill that fails fires the alert once, naming the source, account and task, with its reason", async () => {
    const scoped = await startSandbox({
      seed: 5,
      scale: 100,
      historyDays: HISTORY_DAYS,
      shopify: { scopes: ["read_orders", "read_customers", "read_products"] }
    })
    try {
      const { exit, entries } = await loggedRun(scoped, {
        ...ON_CLOUD_RUN,
        CLOUD_RUN_TASK_INDEX: "1",
        CLOUD_RUN_TASK_COUNT: "2"
      })
      expect(Exit.isFailure(exit)).toBe(true)
      const hits = entries.filter((e) => CloudLogFilter.matches(condition.filter, e))
      expect(hits).toHaveLength(1)
      const hit = hits[0] as CloudLogFilter.LogEntry
      expect(
        Object.fromEntries(
          Object.entries(condition.labelExtractors).map(([k, x]) => [k, CloudLogFilter.extract(x, hit)])
        )
      ).toEqual({ source: "shopify", account: SHOP, task: "1/2" })
      expect(hit.jsonPayload).toMatchObject({
        reason: "MissingScope",
        exitCode: 3,
        error: expect.stringContaining("read_all_orders")
      })
      // Another service's identical line is not ours to alert on.
      const other = { ...hit, labels: { ...hit.labels, service: "kura-sync" } }
      expect(CloudLogFilter.matches(condition.filter, other)).toBe(false)
    } finally {
      await scoped.close()
    }
  })

  it("in a terminal (pretty logs) the outcome is the printed summary alone: no outcome line", async () => {
    const { exit, entries } = await loggedRun(sandbox, { KURA_LOG_FORMAT: "pretty" })
    expect(Exit.isSuccess(exit)).toBe(true)
    expect(entries.filter((e) => String(e.jsonPayload.message).startsWith("backfill "))).toEqual([])
  })
})
