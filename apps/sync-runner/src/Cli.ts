/**
 * The `kura-sync` command line: `run`, `serve`, `status` and `webhooks register`. Only this module
 * (and main.ts) reads the process environment.
 */
import { readFile } from "node:fs/promises"
import { join } from "node:path"
import { layerCloudLogger, makeFileTokenStore, makeMemoryTokenStore, streamKeyToString } from "@kura/core"
import { RawLake, Warehouse, WarehouseTokenStore } from "@kura/warehouse"
import { Clock, Console, Effect, Exit, Layer, Option, Redacted, Schema } from "effect"
import { Command, Flag } from "effect/cli"
import { errorExitCode, errorReported } from "effect/Runtime"
import { formatApiUsage } from "./ApiUsage.js"
import { type AppConfig, loadAppConfig, SOURCES } from "./AppConfig.js"
import { layerAppState } from "./AppState.js"
import { ConfigError } from "./ConfigError.js"
import { startHttpService } from "./HttpService.js"
import { RunLedger, summarize } from "./RunLedger.js"
import { sandboxRequested, startSandboxEnv } from "./SandboxEnv.js"
import { startScheduler } from "./Scheduler.js"
import { SecretResolver } from "./SecretResolver.js"
import { formatLag } from "./StatusPage.js"
import { buildStatusReport, formatStatusReport, StatusReport } from "./StatusReport.js"
import { StreamRunner } from "./StreamRunner.js"
import { planStreamKeys, planStreamsWith } from "./Streams.js"
import { isDue } from "./SyncStream.js"
import { TriggerAuth } from "./TriggerAuth.js"
import { registerWebhooks, WEBHOOK_TOPICS } from "./WebhookRegistrar.js"
import { layerServeWebhooks, webhookModeOf } from "./webhooks/layerServeWebhooks.js"

/** `run` found failed or unreconciled streams; exit code 1. */
export class RunFailed extends Schema.TaggedError<RunFailed>()("RunFailed", {
  failed: Schema.Array(Schema.String)
}) {
  override readonly [errorExitCode] = 1
  override readonly [errorReported] = false
  override get message(): string {
    return `${this.failed.length} stream(s) failed or did not reconcile: ${this.failed.join(", ")}`
  }
}

const configFlag = Flag.String("config").pipe(
  Flag.withDescription(
    "Path of a JSON config file (several shops/POS accounts, schedules). Default: $KURA_CONFIG"
  ),
  Flag.optional
)

/** Loads the config from the flag/`KURA_CONFIG` and the environment; prints problems and fails on error. */
const loadConfig = (configPath: Option.Option<string>) =>
  Effect.gen(function* () {
    const path = Option.getOrUndefined(configPath) ?? process.env.KURA_CONFIG
    let file: { path: string; text: string } | undefined
    if (path !== undefined && path !== "") {
      const text = yield* Effect.tryPromise(() => readFile(path, "utf8")).pipe(
        Effect.mapError(
          (e) =>
            new ConfigError({
              problems: [
                {
                  field: configPath._tag === "Some" ? "--config" : "KURA_CONFIG",
                  message: `cannot read ${path} (${e.cause instanceof Error ? e.cause.message : String(e.cause)})`,
                  fix: "point it at an existing JSON config file"
                }
              ]
            })
        )
      )
      file = { path, text }
    }
    // The sandbox overrides every source's endpoint and credentials, and lives as long as the command.
    const sandbox = sandboxRequested(process.env)
      ? (yield* startSandboxEnv(yield* sandboxOptions(process.env))).env
      : {}
    return yield* loadAppConfig({ env: { ...process.env, ...sandbox }, file })
  }).pipe(
    Effect.provide(SecretResolver.layer),
    Effect.tapError((e) => Console.error(e.message))
  )

const printSkipped = (config: AppConfig, unavailable: ReadonlyArray<{ source: string; reason: string }>) =>
  Effect.forEach([...config.skipped, ...unavailable], (s) =>
    Console.log(`${s.source}: skipped (${s.reason})`)
  )

const stateLayers = layerAppState

/** Optional positive integer env values that size the sandbox (KURA_SANDBOX_SCALE …). */
const sandboxOptions = (env: Readonly<Record<string, string | undefined>>) =>
  Effect.gen(function* () {
    const out: {
      seed?: number
      scale?: number
      historyDays?: number
      anchor?: number
      timeScale?: number
    } = {}
    const anchor = env.KURA_SANDBOX_ANCHOR?.trim()
    if (anchor !== undefined && anchor !== "") {
      const at = /^\d{4}-\d{2}-\d{2}$/.test(anchor) ? Date.parse(`${anchor}T00:00:00Z`) : Number.NaN
      if (Number.isNaN(at))
        return yield* new ConfigError({
          problems: [
            {
              field: "KURA_SANDBOX_ANCHOR",
              message: `"${anchor}" is not a date`,
              fix: "set KURA_SANDBOX_ANCHOR=2026-08-31 (the last day of generated history), or unset it"
            }
          ]
        })
      out.anchor = at
    }
    const fields = [
      ["KURA_SANDBOX_SEED", "seed"],
      ["KURA_SANDBOX_SCALE", "scale"],
      ["KURA_SANDBOX_HISTORY_DAYS", "historyDays"],
      // The emulators' clock speed-up: rate limits refill and bulk jobs run that much faster.
      ["KURA_SANDBOX_TIME_SCALE", "timeScale"]
    ] as const
    for (const [name, key] of fields) {
      const text = env[name]?.trim()
      if (text === undefined || text === "") continue
      const n = Number(text)
      if (!Number.isInteger(n) || n <= 0)
        return yield* new ConfigError({
          problems: [
            {
              field: name,
              message: `"${text}" is not a positive integer`,
              fix: `set ${name}=100, or unset it`
            }
          ]
        })
      out[key] = n
    }
    return out
  })

/**
 * The runner over every stream of `config`, built once the warehouse and lake are open. Lightspeed's
 * single-use refresh tokens rotate through the warehouse's `_kura_tokens` (compare-and-set: one
 * refresher per credential across every process) or `<stateDir>/tokens.json` (`KURA_TOKEN_STORE`),
 * so the next run can still log in; the sandbox issues fresh tokens each start, so its stay in memory.
 */
const runnerLayer = (config: AppConfig) =>
  Layer.unwrap(
    Effect.gen(function* () {
      const warehouse = yield* Warehouse
      const lake = yield* RawLake
      yield* boundDuckDb(warehouse, process.env.KURA_DUCKDB_MEMORY_LIMIT)
      const tokenStore = config.sandbox
        ? makeMemoryTokenStore(new Map())
        : config.tokenStore === "warehouse"
          ? WarehouseTokenStore.make(
              warehouse,
              Option.match(config.tokenEncryptionKey, {
                onNone: () => ({}),
                onSome: (encryptionKey) => ({ encryptionKey })
              })
            )
          : makeFileTokenStore(join(config.stateDir, "tokens.json"))
      // The sandbox's POS history is short: start Lightspeed there, not 400 days back, day by day.
      const sandbox = config.sandbox ? yield* sandboxOptions(process.env) : undefined
      const now = sandbox?.anchor ?? (yield* Clock.currentTimeMillis)
      const releases: Array<Effect.Effect<void>> = []
      // Each account's client is shared by its streams; release them when the runner stops.
      yield* Effect.addFinalizer(() => Effect.all(releases, { discard: true }))
      const plan = planStreamsWith(config, {
        warehouse,
        lake,
        tokenStore,
        onRelease: (release) => releases.push(release),
        sandbox: config.sandbox,
        ...(sandbox === undefined
          ? {}
          : {
              lightspeedFromDate: new Date(now - ((sandbox.historyDays ?? 365) + 2) * 86_400_000)
                .toISOString()
                .slice(0, 10)
            })
      })
      return StreamRunner.layer(plan.streams, config.drainTimeoutMs)
    })
  )

/** DuckDB's buffer pool for `run` and `serve` unless `KURA_DUCKDB_MEMORY_LIMIT` says otherwise. */
export const DUCKDB_MEMORY_LIMIT = "256MB"

/**
 * Bounds an embedded DuckDB's buffer pool (`SET memory_limit`; DuckDB spills beyond it): DuckDB's
 * own default is 80 % of the machine's RAM, which on a Cloud Run instance or a laptop means it
 * keeps caching until the process is killed. The same knob as kura-backfill's. No-op on BigQuery.
 */
export const boundDuckDb = (warehouse: Warehouse["Service"], value: string | undefined) =>
  Effect.gen(function* () {
    if (warehouse.dialect.name !== "duckdb") return
    const limit = value === undefined || value.trim() === "" ? DUCKDB_MEMORY_LIMIT : value.trim()
    if (!/^\d+(\.\d+)?\s*(KB|MB|GB|KiB|MiB|GiB)$/i.test(limit)) {
      const error = new ConfigError({
        problems: [
          {
            field: "KURA_DUCKDB_MEMORY_LIMIT",
            message: `"${limit}" is not a memory size`,
            fix: `set a size such as 256MB or 1GB (default ${DUCKDB_MEMORY_LIMIT}), or unset it`
          }
        ]
      })
      yield* Console.error(error.message)
      return yield* error
    }
    yield* warehouse.query(`SET memory_limit = '${limit}'`)
  })

const runCommand = Command.make(
  "run",
  {
    config: configFlag,
    source: Flag.Literals("source", SOURCES).pipe(Flag.withDescription("Only this source"), Flag.optional),
    stream: Flag.String("stream").pipe(
      Flag.withDescription("Only this stream (runs it even if not due)"),
      Flag.optional
    ),
    force: Flag.Boolean("force").pipe(
      Flag.withDescription("Run every matching stream, due or not"),
      Flag.withDefault(false)
    )
  },
  (flags) =>
    Effect.gen(function* () {
      const config = yield* loadConfig(flags.config)
      yield* printSkipped(config, [])
      const selector = {
        source: Option.getOrUndefined(flags.source),
        stream: Option.getOrUndefined(flags.stream)
      }
      const program = Effect.gen(function* () {
        const runner = yield* StreamRunner
        const selected = runner.select(selector)
        if (selected.length === 0) {
          yield* Console.log("no configured stream matches; nothing to run")
          return
        }
        // A scheduled `run` (cron, Cloud Run job) only runs what is due; naming a stream forces it.
        const now = yield* Clock.currentTimeMillis
        const history = summarize(
          selected.map((s) => s.key),
          yield* (yield* RunLedger).list(),
          now
        )
        const due = new Set<string>()
        for (const [i, stream] of selected.entries()) {
          const h = history[i]!
          const id = streamKeyToString(stream.key)
          if (
            flags.force ||
            Option.isSome(flags.stream) ||
            isDue(
              stream,
              { lastSuccessAt: h.lastSuccessAt, lastRunSucceeded: h.lastRun?.status === "succeeded" },
              now
            )
          )
            due.add(id)
          else
            yield* Console.log(
              `${id}: not due (last success ${formatLag(h.lagMs)} ago, interval ${formatLag(stream.intervalMs)}; --force runs it)`
            )
        }
        if (due.size === 0) return
        const results = yield* runner.runNow({ ...selector, only: due }, "cli")
        const failed: Array<string> = []
        for (const r of results) {
          if ("_tag" in r) {
            yield* Console.log(`${streamKeyToString(r.key)}: busy (another run holds the lease)`)
            continue
          }
          const bad = r.status !== "succeeded" || r.reconciliation === "mismatch"
          if (bad) failed.push(streamKeyToString(r.key))
          yield* Console.log(
            `${streamKeyToString(r.key)}: ${r.status}, ${r.rows} rows, reconciliation ${r.reconciliation}` +
              (r.api === undefined ? "" : `; API: ${formatApiUsage(r.api)}`) +
              (r.error === undefined ? "" : `, error: ${r.error}`)
          )
        }
        if (failed.length > 0) {
          const error = new RunFailed({ failed })
          yield* Console.error(error.message)
          return yield* error
        }
      })
      yield* program.pipe(Effect.provide(runnerLayer(config).pipe(Layer.provideMerge(stateLayers(config)))))
    })
).pipe(
  Command.withDescription(
    "Make one pass over the due streams; exits non-zero if any failed or did not reconcile"
  )
)

const serveCommand = Command.make(
  "serve",
  {
    config: configFlag,
    scheduler: Flag.Literals("scheduler", ["auto", "on", "off"]).pipe(
      Flag.withDescription(
        "Run streams on their intervals in-process (auto: on unless running on Cloud Run)"
      ),
      Flag.withDefault("auto")
    )
  },
  (flags) =>
    Effect.gen(function* () {
      const config = yield* loadConfig(flags.config)
      if (Option.isNone(config.triggerSecret) && Option.isNone(config.oidcAudience))
        return yield* Effect.fail(
          new ConfigError({
            problems: [
              {
                field: "KURA_TRIGGER_SECRET",
                message: "serve needs a way to authenticate POST /sync triggers",
                fix: "set KURA_OIDC_AUDIENCE (Cloud Scheduler OIDC) and/or KURA_TRIGGER_SECRET"
              }
            ]
          })
        ).pipe(Effect.tapError((e) => Console.error(e.message)))
      // Public by default only off Cloud Run; KURA_STATUS_PUBLIC=1|0 decides explicitly.
      const statusPublic = process.env.KURA_STATUS_PUBLIC
      const statusProtected =
        statusPublic === undefined
          ? process.env.K_SERVICE !== undefined
          : !["1", "true"].includes(statusPublic)
      const scheduler =
        flags.scheduler === "on" || (flags.scheduler === "auto" && process.env.K_SERVICE === undefined)
      const secretsFor = (shop: string) =>
        config.shopify
          .filter((s) => s.shop === shop)
          .flatMap((s) => [
            ...Option.toArray(Option.map(s.webhookSecret, Redacted.value)),
            ...(s.auth._tag === "ClientCredentials" ? [Redacted.value(s.auth.clientSecret)] : [])
          ])
      const services = Layer.mergeAll(
        TriggerAuth.layer({
          secret: config.triggerSecret,
          audience: config.oidcAudience,
          allowedEmails: config.oidcServiceAccounts
        }),
        // Acquired after the runner, so on shutdown the intake lands its queue before the runner drains.
        layerServeWebhooks({
          secretsFor,
          mode: webhookModeOf(process.env.KURA_WEBHOOK_MODE),
          shops: config.shopify,
          stateDir: config.stateDir,
          sandbox: config.sandbox
        })
      ).pipe(Layer.provideMerge(runnerLayer(config)), Layer.provideMerge(stateLayers(config)))
      yield* Effect.gen(function* () {
        for (const s of config.skipped) yield* Effect.logInfo(`${s.source}: skipped (${s.reason})`)
        const server = yield* startHttpService({
          port: config.port,
          protectStatus: statusProtected,
          skipped: config.skipped
        })
        if (scheduler) {
          const n = yield* startScheduler()
          yield* Effect.logInfo(`internal scheduler started for ${n} stream(s)`)
        }
        yield* Effect.logInfo(`kura-sync serving on ${server.url}`)
        return yield* Effect.never
      }).pipe(
        Effect.scoped,
        Effect.provide(services),
        Effect.provide(
          layerCloudLogger({
            projectId: Option.getOrUndefined(config.project),
            labels: { service: "kura-sync" },
            labelAnnotations: ["stream"]
          })
        )
      )
    })
).pipe(
  Command.withDescription(
    "Start the HTTP service (Cloud Run): triggers, webhooks, health, metrics, status page"
  )
)

const statusCommand = Command.make(
  "status",
  {
    config: configFlag,
    json: Flag.Boolean("json").pipe(Flag.withDescription("Print JSON"), Flag.withDefault(false)),
    url: Flag.String("url").pipe(
      Flag.withDescription(
        "Ask a running `kura-sync serve` (e.g. http://127.0.0.1:8080) instead of opening the warehouse"
      ),
      Flag.optional
    )
  },
  (flags) =>
    Effect.gen(function* () {
      let report: StatusReport
      if (Option.isSome(flags.url)) {
        const base = flags.url.value.replace(/\/$/, "")
        report = yield* Effect.tryPromise(async () => {
          const res = await fetch(`${base}/status.json`)
          if (!res.ok) throw new Error(`HTTP ${res.status}`)
          return res.json()
        }).pipe(
          Effect.flatMap(Schema.decodeUnknownEffect(StatusReport)),
          Effect.mapError((e) => new RunFailed({ failed: [`${base}/status.json: ${e.message}`] })),
          Effect.tapError((e) => Console.error(`cannot read status from ${base}: ${e.failed[0]}`))
        )
      } else {
        const config = yield* loadConfig(flags.config)
        report = yield* buildStatusReport(planStreamKeys(config), config.skipped).pipe(
          Effect.provide(stateLayers(config)),
          Effect.catchTag("WarehouseError", (e) =>
            Console.error(
              /lock/i.test(e.message)
                ? `the warehouse ${config.warehouse} is held by a running kura-sync (DuckDB allows one process); use kura-sync status --url http://127.0.0.1:${config.port}`
                : `cannot open the warehouse: ${e.message}`
            ).pipe(Effect.andThen(Effect.fail(new RunFailed({ failed: ["status"] }))))
          )
        )
      }
      yield* Console.log(flags.json ? JSON.stringify(report, null, 2) : formatStatusReport(report))
    })
).pipe(Command.withDescription("Print cursors, lag, last runs and errors"))

const registerCommand = Command.make(
  "register",
  {
    config: configFlag,
    address: Flag.String("address").pipe(
      Flag.withDescription(
        "Public HTTPS address of POST /webhooks/shopify, e.g. https://kura-sync-xyz.a.run.app/webhooks/shopify"
      )
    )
  },
  (flags) =>
    Effect.gen(function* () {
      const config = yield* loadConfig(flags.config)
      if (config.shopify.length === 0) {
        yield* printSkipped(config, [])
        return
      }
      const results = yield* registerWebhooks(config.shopify, flags.address, WEBHOOK_TOPICS)
      let failed = 0
      for (const r of results) {
        yield* Console.log(
          `${r.shop} ${r.topic}: ${r.outcome}${r.detail === undefined ? "" : ` (${r.detail})`}`
        )
        if (r.outcome === "failed") failed++
      }
      if (failed > 0)
        return yield* new RunFailed({
          failed: results.filter((r) => r.outcome === "failed").map((r) => `${r.shop} ${r.topic}`)
        })
    })
).pipe(Command.withDescription("Register the Shopify webhook subscriptions for every configured shop"))

const webhooksCommand = Command.make("webhooks").pipe(
  Command.withDescription("Manage Shopify webhook subscriptions"),
  Command.withSubcommands([registerCommand])
)

/** The root command. */
export const cli = Command.make("kura-sync").pipe(
  Command.withDescription(
    "Kura sync runner: keeps the warehouse in sync with Shopify, Lightspeed and Stocky"
  ),
  Command.withSubcommands([runCommand, serveCommand, statusCommand, webhooksCommand])
)

/** Exit code policy: a signal-driven shutdown that drained cleanly is a success (Cloud Run expects 0). */
export const exitCodeFor = (exit: Exit.Exit<unknown, unknown>): number => {
  if (Exit.isSuccess(exit)) return 0
  return Option.match(Exit.findErrorOption(exit), {
    onNone: () => (exit.cause.reasons.every((r) => r._tag === "Interrupt") ? 0 : 1),
    onSome: (e) => {
      if (typeof e === "object" && e !== null && errorExitCode in e) {
        const code = e[errorExitCode]
        if (typeof code === "number") return code
      }
      return 1
    }
  })
}
