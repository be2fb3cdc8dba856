import { Effect, Exit } from "effect"
import { afterEach, describe, expect, it, vi } from "vitest"
import { BACKFILL_SERVICE_NAME, layerBackfillLogger } from "../src/BackfillLogger.js"

/** What a log call prints under the backfill's logger for `env`, stdout and stderr apart. */
const printed = async (env: Record<string, string>) => {
  const out: Array<string> = []
  const err: Array<string> = []
  vi.spyOn(process.stdout, "write").mockImplementation((c) => out.push(String(c)) > 0)
  vi.spyOn(process.stderr, "write").mockImplementation((c) => err.push(String(c)) > 0)
  vi.spyOn(console, "log").mockImplementation((...a) => void out.push(a.join(" ")))
  vi.spyOn(console, "error").mockImplementation((...a) => void err.push(a.join(" ")))
  const exit = await Effect.runPromiseExit(
    Effect.logWarning("window w1 failed, running it again").pipe(Effect.provide(layerBackfillLogger(env)))
  )
  vi.restoreAllMocks()
  return { exit, out, err }
}

describe("layerBackfillLogger", () => {
  afterEach(() => {
    vi.restoreAllMocks()
  })

  it("writes Cloud Logging JSON in a Cloud Run Job's task, labelled kura-backfill", async () => {
    const { out } = await printed({ CLOUD_RUN_JOB: "kura-backfill-shopify" })
    expect(out).toHaveLength(1)
    expect(JSON.parse(out[0] ?? "")).toMatchObject({
      severity: "WARNING",
      message: "window w1 failed, running it again",
      "logging.googleapis.com/labels": { service: BACKFILL_SERVICE_NAME }
    })
  })

  it("keeps readable lines elsewhere, and KURA_LOG_FORMAT=json asks for JSON anywhere", async () => {
    const local = await printed({})
    expect(local.out.join("\n")).toContain("window w1 failed")
    expect(() => JSON.parse(local.out[0] ?? "")).toThrow()
    const json = await printed({ KURA_LOG_FORMAT: "json" })
    expect(JSON.parse(json.out[0] ?? "").severity).toBe("WARNING")
  })

  it("refuses an unknown format, naming the variable and its values (exit 2)", async () => {
    const { exit, err } = await printed({ KURA_LOG_FORMAT: "yaml" })
    expect(Exit.isFailure(exit)).toBe(true)
    expect(err.join("\n")).toContain('KURA_LOG_FORMAT: "yaml" is not a log format; set json')
  })
})
