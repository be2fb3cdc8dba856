import { assert, describe, it } from "@effect/vitest"
import { Config, ConfigProvider, Effect, Logger, Redacted } from "effect"
import { cloudLogger, sanitize } from "../src/CloudLogger.js"
import {
  ConfigValidationError,
  describeConfig,
  secretConfig,
  validateConfig
} from "../src/ConfigValidation.js"
import { clearRegisteredSecrets } from "../src/Redaction.js"
import { MetricNames, MetricsRegistry } from "../src/Telemetry.js"
import { failure } from "./support/exit.js"

const withEnv = (env: Record<string, string>) =>
  Effect.provideService(ConfigProvider.ConfigProvider, ConfigProvider.fromEnv({ env }))

describe("validateConfig", () => {
  const fields = {
    shop: Config.String("SHOPIFY_SHOP_DOMAIN"),
    token: secretConfig("SHOPIFY_ACCESS_TOKEN"),
    port: Config.Port("PORT"),
    workers: Config.Int("KURA_WORKERS").pipe(Config.withDefault(2)),
    mode: Config.Literals(["incremental", "backfill"], "KURA_MODE")
  }

  it.effect("reports every missing and invalid variable at once, by name", () =>
    Effect.gen(function* () {
      const exit = yield* Effect.exit(
        validateConfig(fields).pipe(
          withEnv({ PORT: "not-a-port", KURA_MODE: "sometimes", KURA_WORKERS: "many" })
        )
      )
      const error = failure(exit)
      assert.instanceOf(error, ConfigValidationError)
      assert.deepStrictEqual(
        error.problems.map((p) => [p.name, p.kind]),
        [
          ["SHOPIFY_SHOP_DOMAIN", "missing"],
          ["SHOPIFY_ACCESS_TOKEN", "missing"],
          ["PORT", "invalid"],
          ["KURA_WORKERS", "invalid"],
          ["KURA_MODE", "invalid"]
        ]
      )
      assert.include(error.message, "SHOPIFY_SHOP_DOMAIN: missing")
      assert.include(error.message, "PORT: invalid")
      assert.include(error.message, '"incremental" | "backfill"')
    })
  )

  it.effect("returns typed values and never prints secrets", () =>
    Effect.gen(function* () {
      const lines: Array<string> = []
      const values = yield* validateConfig(fields).pipe(
        withEnv({
          SHOPIFY_SHOP_DOMAIN: "kura-matcha.myshopify.com",
          SHOPIFY_ACCESS_TOKEN: "shpat_topsecretvalue42",
          PORT: "8080",
          KURA_MODE: "backfill"
        })
      )
      assert.strictEqual(values.port, 8080)
      assert.strictEqual(values.workers, 2)
      assert.strictEqual(Redacted.value(values.token), "shpat_topsecretvalue42")
      assert.notInclude(String(values.token), "topsecret")
      assert.notInclude(JSON.stringify(describeConfig(values)), "topsecret")
      // The secret is registered: even a careless log line is masked.
      yield* Effect.logInfo(`token is ${Redacted.value(values.token)}`).pipe(
        Effect.provide(Logger.layer([cloudLogger({ write: (l) => void lines.push(l) })]))
      )
      assert.notInclude(lines.join("\n"), "topsecret")
      clearRegisteredSecrets()
    })
  )
})

describe("CloudLogger", () => {
  it.effect("writes Cloud Logging JSON with severity, labels and trace, without secrets", () =>
    Effect.gen(function* () {
      const lines: Array<string> = []
      const layer = Logger.layer([
        cloudLogger({
          projectId: "kura-prod",
          labels: { service: "sync-runner" },
          labelAnnotations: ["source"],
          write: (l) => void lines.push(l)
        })
      ])
      yield* Effect.gen(function* () {
        yield* Effect.logWarning("GET https://s.test/x?access_token=abc123secret failed", {
          headers: { Authorization: "Bearer zzz-secret-zzz", "x-request-id": "r1" }
        })
        yield* Effect.logError("boom")
      }).pipe(
        Effect.annotateLogs({ source: "shopify", token: Redacted.make("hidden-value") }),
        Effect.withSpan("sync"),
        Effect.provide(layer)
      )
      assert.strictEqual(lines.length, 2)
      const first = JSON.parse(lines[0]!)
      assert.strictEqual(first.severity, "WARNING")
      assert.include(first.message, "access_token=<redacted>")
      assert.deepStrictEqual(first["logging.googleapis.com/labels"], {
        service: "sync-runner",
        source: "shopify"
      })
      assert.match(first["logging.googleapis.com/trace"], /^projects\/kura-prod\/traces\/\w+$/)
      assert.isString(first["logging.googleapis.com/spanId"])
      assert.strictEqual(first.source, "shopify")
      assert.strictEqual(first.token, "<redacted>")
      assert.isString(first.time)
      assert.strictEqual(JSON.parse(lines[1]!).severity, "ERROR")
      for (const secret of ["abc123secret", "zzz-secret-zzz", "hidden-value"])
        assert.notInclude(lines.join("\n"), secret)
    })
  )

  it("sanitize hides secret-named keys and Redacted values", () => {
    assert.deepStrictEqual(
      sanitize({ password: "p", nested: { access_token: "t", ok: 1n }, r: Redacted.make("x") }),
      {
        password: "<redacted>",
        nested: { access_token: "<redacted>", ok: "1" },
        r: "<redacted>"
      }
    )
  })
})

describe("Telemetry", () => {
  it("renders Prometheus text exposition", () => {
    const registry = new MetricsRegistry()
    registry.increment(MetricNames.requests, { host: "s.test", method: "GET", status: "2xx" })
    registry.increment(MetricNames.requests, { host: "s.test", method: "GET", status: "2xx" }, 2)
    registry.increment(MetricNames.records, { stream: 'we"ird\\' }, 250)
    registry.observe(MetricNames.throttleWait, 0.3, { kind: "query-cost" }, [0.1, 0.5, 1])
    registry.observe(MetricNames.throttleWait, 2, { kind: "query-cost" }, [0.1, 0.5, 1])
    const text = registry.toPrometheus()
    const expected = [
      "# HELP kura_http_requests_total HTTP requests completed, by host, method and status class.",
      "# TYPE kura_http_requests_total counter",
      'kura_http_requests_total{host="s.test",method="GET",status="2xx"} 3',
      "# HELP kura_records_total Records read from a source.",
      "# TYPE kura_records_total counter",
      'kura_records_total{stream="we\\"ird\\\\"} 250',
      "# HELP kura_throttle_wait_seconds Time spent waiting for a rate limiter before sending, in seconds.",
      "# TYPE kura_throttle_wait_seconds histogram",
      'kura_throttle_wait_seconds_bucket{kind="query-cost",le="0.1"} 0',
      'kura_throttle_wait_seconds_bucket{kind="query-cost",le="0.5"} 1',
      'kura_throttle_wait_seconds_bucket{kind="query-cost",le="1"} 1',
      'kura_throttle_wait_seconds_bucket{kind="query-cost",le="+Inf"} 2',
      'kura_throttle_wait_seconds_sum{kind="query-cost"} 2.3',
      'kura_throttle_wait_seconds_count{kind="query-cost"} 2',
      ""
    ].join("\n")
    assert.strictEqual(text, expected)
    const snapshot = registry.snapshot()
    assert.strictEqual(snapshot.counters.length, 2)
    assert.strictEqual(snapshot.histograms[0]?.count, 2)
    assert.strictEqual(registry.counterTotal(MetricNames.requests), 3)
  })
})
