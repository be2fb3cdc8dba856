import { Effect, Schema } from "effect"
import { describe, expect, it } from "vitest"
import { CloudLogFilter, layerCloudLogger } from "../src/index.js"

const JOB = { type: "cloud_run_job", labels: { job_name: "kura-backfill-shopify" } }

/** Lines the real Cloud Logging logger writes for these effects. */
const linesOf = async (effect: Effect.Effect<void>): Promise<ReadonlyArray<CloudLogFilter.LogEntry>> => {
  const lines: Array<string> = []
  await Effect.runPromise(
    effect.pipe(
      Effect.provide(
        layerCloudLogger({
          labels: { service: "kura-backfill" },
          labelAnnotations: ["source"],
          write: (l) => void lines.push(l)
        })
      )
    )
  )
  return lines.map((l) => CloudLogFilter.entryOf(l, JOB))
}

describe("CloudLogFilter", () => {
  it("lifts severity and labels out of the payload, as Cloud Run does", async () => {
    const [entry] = await linesOf(
      Effect.logError("backfill failed").pipe(Effect.annotateLogs({ source: "shopify", windows: 3 }))
    )
    expect(entry).toMatchObject({
      resource: JOB,
      severity: "ERROR",
      labels: { service: "kura-backfill", source: "shopify" },
      jsonPayload: { message: "backfill failed", source: "shopify", windows: 3 }
    })
    expect(entry?.jsonPayload).not.toHaveProperty("severity")
  })

  it("matches equality and severity clauses joined by AND, and nothing else", async () => {
    const entries = await linesOf(
      Effect.gen(function* () {
        yield* Effect.logWarning("window 2 failed, running it again")
        yield* Effect.logError("backfill failed")
        yield* Effect.logInfo("backfill failed")
      }).pipe(Effect.annotateLogs({ source: "lightspeed" }))
    )
    const filter =
      'labels.service="kura-backfill" AND severity>=ERROR AND jsonPayload.message="backfill failed"'
    expect(entries.map((e) => CloudLogFilter.matches(filter, e))).toEqual([false, true, false])
    expect(entries.map((e) => CloudLogFilter.matches("severity>=WARNING", e))).toEqual([true, true, false])
    expect(entries.map((e) => CloudLogFilter.matches('labels.service="kura-sync"', e))).toEqual([
      false,
      false,
      false
    ])
    expect(CloudLogFilter.extract("EXTRACT(labels.source)", entries[1] as CloudLogFilter.LogEntry)).toBe(
      "lightspeed"
    )
  })

  it("throws on what it cannot evaluate rather than guessing", async () => {
    const [entry] = await linesOf(Effect.logError("x"))
    const e = entry as CloudLogFilter.LogEntry
    expect(() => CloudLogFilter.matches('jsonPayload.message=~"back.*"', e)).toThrow(
      /outside the supported subset/
    )
    expect(() => CloudLogFilter.matches('labels.a="1" OR labels.b="2"', e)).toThrow(
      /outside the supported subset/
    )
    expect(() => CloudLogFilter.matches("severity>=LOUD", e)).toThrow(/unknown severity/)
    expect(() => CloudLogFilter.extract('REGEXP_EXTRACT(labels.a, "(.*)")', e)).toThrow(/supported subset/)
    expect(() => CloudLogFilter.entryOf("plain text", JOB)).toThrow(SyntaxError)
    expect(() => CloudLogFilter.entryOf("[1]", JOB)).toThrow(/not a structured log line/)
  })

  it("decodes a log-match policy only with the notification rate limit Cloud Monitoring requires", () => {
    const policy = {
      displayName: "a failure",
      combiner: "OR",
      conditions: [
        {
          displayName: "a failed line",
          conditionMatchedLog: { filter: "severity>=ERROR", labelExtractors: { s: "EXTRACT(labels.s)" } }
        }
      ],
      alertStrategy: { notificationRateLimit: { period: "300s" }, autoClose: "1800s" }
    }
    const decode = Schema.decodeUnknownSync(CloudLogFilter.LogMatchPolicy)
    expect(decode(policy).conditions[0].conditionMatchedLog.filter).toBe("severity>=ERROR")
    expect(() => decode({ ...policy, alertStrategy: { autoClose: "1800s" } })).toThrow(
      /notificationRateLimit/
    )
  })
})
