/**
 * The deploy guide's log-based metric and alerting policies (`deploy/monitoring/`) against the lines
 * the service really writes: a run through the StreamRunner under the service's own logger, each
 * line turned into the LogEntry Cloud Run makes of it, and each policy's filter evaluated on them.
 * A renamed log message, label or service would leave an alert that never fires; this fails first.
 */
import { readFileSync } from "node:fs"
import { CheckpointStore, CloudLogFilter, layerCloudLogger } from "@kura/core"
import { Effect, Layer, Schema } from "effect"
import { describe, expect, it } from "vitest"
import { LeaseManager } from "../src/LeaseManager.js"
import { Metrics } from "../src/Metrics.js"
import { RunLedger } from "../src/RunLedger.js"
import { SERVICE_NAME, serviceLoggerOptions } from "../src/ServiceLogger.js"
import { StreamRunner } from "../src/StreamRunner.js"
import { failingStream, slowStream } from "./support.js"

const monitoring = new URL("../deploy/monitoring/", import.meta.url)
const readJson = (name: string): unknown => JSON.parse(readFileSync(new URL(name, monitoring), "utf8"))

const Extractors = Schema.Record(Schema.String, Schema.String)
const LogMetric = Schema.Struct({
  name: Schema.String,
  filter: Schema.String,
  metricDescriptor: Schema.Struct({
    metricKind: Schema.Literal("DELTA"),
    valueType: Schema.Literal("INT64"),
    labels: Schema.Array(Schema.Struct({ key: Schema.String, valueType: Schema.Literal("STRING") }))
  }),
  labelExtractors: Extractors
})
const AbsencePolicy = Schema.Struct({
  displayName: Schema.String,
  conditions: Schema.Tuple([
    Schema.Struct({
      displayName: Schema.String,
      conditionAbsent: Schema.Struct({
        filter: Schema.String,
        duration: Schema.String,
        aggregations: Schema.Tuple([Schema.Struct({ groupByFields: Schema.Array(Schema.String) })])
      })
    })
  ])
})

/** Where a line was written: the service, or `kura-sync run` as a Cloud Run Job (DEPLOY.md §8). */
const SERVICE = { type: "cloud_run_revision", labels: { service_name: SERVICE_NAME } }
const JOB = { type: "cloud_run_job", labels: { job_name: "kura-backfill-shopify" } }

type LogEntry = CloudLogFilter.LogEntry
const { matches, extract } = CloudLogFilter

/** One pass of two streams, one succeeding and one failing, logged as `kura-sync serve` logs. */
const loggedPass = async (
  resource: CloudLogFilter.MonitoredResource = SERVICE
): Promise<ReadonlyArray<LogEntry>> => {
  const lines: Array<string> = []
  await Effect.runPromise(
    Effect.gen(function* () {
      const runner = yield* StreamRunner.make([slowStream("orders", 1, 3), failingStream("customers")])
      yield* runner.runNow({}, "cli")
    }).pipe(
      Effect.provide(
        Layer.mergeAll(
          CheckpointStore.layerMemory,
          RunLedger.layerMemory(),
          LeaseManager.layerMemory,
          Metrics.layer
        )
      ),
      Effect.provide(
        layerCloudLogger({ ...serviceLoggerOptions(undefined), write: (l) => void lines.push(l) })
      )
    )
  )
  return lines.map((l) => CloudLogFilter.entryOf(l, resource))
}

describe("deploy/monitoring: the log-based metric and alerts match what the service logs", () => {
  it("the failed-run alert fires on the failed run's line alone and names its stream", async () => {
    const entries = await loggedPass()
    const policy = Schema.decodeUnknownSync(CloudLogFilter.LogMatchPolicy)(readJson("run-failed.policy.json"))
    const condition = policy.conditions[0].conditionMatchedLog
    const hits = entries.filter((e) => matches(condition.filter, e))
    expect(hits).toHaveLength(1)
    expect(hits.map((e) => extract(condition.labelExtractors.stream as string, e))).toEqual([
      "demo/test/customers"
    ])
    expect(hits[0]?.jsonPayload).toMatchObject({ error: expect.stringContaining("HTTP 503") })
  })

  it("the failed-run alert and the success metric also read a Cloud Run Job's lines, and no other service's", async () => {
    const policy = Schema.decodeUnknownSync(CloudLogFilter.LogMatchPolicy)(readJson("run-failed.policy.json"))
    const metric = Schema.decodeUnknownSync(LogMetric)(readJson("run-succeeded.metric.json"))
    const job = await loggedPass(JOB)
    expect(job.filter((e) => matches(policy.conditions[0].conditionMatchedLog.filter, e))).toHaveLength(1)
    expect(job.filter((e) => matches(metric.filter, e))).toHaveLength(1)
    const other = job.map((e) => ({ ...e, labels: { ...e.labels, service: "another-app" } }))
    expect(other.filter((e) => matches(policy.conditions[0].conditionMatchedLog.filter, e))).toHaveLength(0)
    expect(other.filter((e) => matches(metric.filter, e))).toHaveLength(0)
  })

  it("the success metric counts the succeeded run's line alone, by stream; the stale alert reads that metric by stream", async () => {
    const entries = await loggedPass()
    const metric = Schema.decodeUnknownSync(LogMetric)(readJson("run-succeeded.metric.json"))
    const hits = entries.filter((e) => matches(metric.filter, e))
    expect(hits).toHaveLength(1)
    expect(Object.keys(metric.labelExtractors)).toEqual(metric.metricDescriptor.labels.map((l) => l.key))
    expect(hits.map((e) => extract(metric.labelExtractors.stream as string, e))).toEqual(["demo/test/orders"])

    const stale = Schema.decodeUnknownSync(AbsencePolicy)(readJson("stream-stale.policy.json"))
    const absent = stale.conditions[0].conditionAbsent
    expect(absent.filter).toContain(`metric.type="logging.googleapis.com/user/${metric.name}"`)
    expect(absent.aggregations[0].groupByFields).toEqual(["metric.label.stream"])
  })
})
