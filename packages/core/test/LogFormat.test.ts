import { Effect, Logger } from "effect"
import { afterEach, describe, expect, it, vi } from "vitest"
import { layerLogFormat, logFormatOf, onCloudRun } from "../src/index.js"

describe("LogFormat", () => {
  afterEach(() => {
    vi.restoreAllMocks()
  })

  it("takes the setting when it names a format, the fallback when it is unset, and nothing for a typo", () => {
    expect(logFormatOf(" JSON ", "pretty")).toBe("json")
    expect(logFormatOf("pretty", "json")).toBe("pretty")
    expect(logFormatOf(undefined, "json")).toBe("json")
    expect(logFormatOf("  ", "pretty")).toBe("pretty")
    expect(logFormatOf("jsonl", "json")).toBeUndefined()
  })

  it("knows Cloud Run by K_SERVICE (a service) or CLOUD_RUN_JOB (a job's task)", () => {
    expect(onCloudRun({ K_SERVICE: "kura-sync" })).toBe(true)
    expect(onCloudRun({ CLOUD_RUN_JOB: "kura-backfill-shopify" })).toBe(true)
    expect(onCloudRun({ K_SERVICE: "", HOME: "/root" })).toBe(false)
  })

  it("json writes Cloud Logging lines, to stderr where LogToStderr is set; pretty keeps Effect's logger", async () => {
    const out: Array<string> = []
    const err: Array<string> = []
    vi.spyOn(process.stdout, "write").mockImplementation((chunk) => {
      out.push(String(chunk))
      return true
    })
    vi.spyOn(process.stderr, "write").mockImplementation((chunk) => {
      err.push(String(chunk))
      return true
    })
    const json = layerLogFormat("json", { labels: { service: "kura-sync" }, labelAnnotations: ["stream"] })
    await Effect.runPromise(
      Effect.logError("run failed").pipe(
        Effect.annotateLogs({ stream: "shopify/s/orders" }),
        Effect.provide(json)
      )
    )
    await Effect.runPromise(
      Effect.logInfo("to stderr").pipe(Effect.provide(json), Effect.provideService(Logger.LogToStderr, true))
    )
    vi.restoreAllMocks()
    expect(out).toHaveLength(1)
    expect(JSON.parse(out[0] ?? "")).toMatchObject({
      severity: "ERROR",
      message: "run failed",
      "logging.googleapis.com/labels": { service: "kura-sync", stream: "shopify/s/orders" }
    })
    expect(err.map((l) => JSON.parse(l).message)).toEqual(["to stderr"])

    const lines: Array<string> = []
    vi.spyOn(console, "log").mockImplementation((...args) => void lines.push(args.join(" ")))
    await Effect.runPromise(Effect.logInfo("plain").pipe(Effect.provide(layerLogFormat("pretty"))))
    vi.restoreAllMocks()
    expect(lines.join("\n")).toContain("plain")
    expect(() => JSON.parse(lines[0] ?? "")).toThrow()
  })
})
