/**
 * The `kura-sync` command line: `run`, `serve`, `status` and `webhooks register`. Only this module
 * (and main.ts) reads the process environment.
 */
import { readFile } from "node:fs/promises"
import { makeFileTokenStore, makeMemoryTokenStore, streamKeyToString } from "@kura/core"
import {
  makeRedaction,
  ObjectStore,
  RawLake,
  Warehouse,
  type WarehouseError,
  WarehouseTokenStore
} from "@kura/warehouse"
import { Clock, Console, Effect, Exit, Layer, Logger, Option, Redacted, Schema } from "effect"
import { Command, Flag } from "effect/cli"
import { errorExitCode, errorReported } from "effect/Runtime"
import { formatApiUsage } from "./ApiUsage.js"
import { type AppConfig, checkLocalStores, loadAppConfig, parseDuration, SOURCES } from "./AppConfig.js"
import { layerAppState } from "./AppState.js"
import {
  checkExitCode,
  checkReportJson,
  DEFAULT_CHECK_TIMEOUT_MS,
  formatCheckTable,
  runChecks
} from "./Check.js"
import { ConfigError } from "./ConfigError.js"
import { groupLetters, type LetterSelection, replayLetters, selectLetters } from "./DeadLetterReplay.js"
import { startHttpService } from "./HttpService.js"
import { allReplayers } from "./internal/replayers.js"
import { makeRedactCommand } from "./RedactCommand.js"
import { redactionOptionsFor, tokenFilePath } from "./RedactionOptions.js"
import { eraseAgain, erasedOf, makeLedgerCache, reapplyRedactionsWhenAny } from "./RedactReapply.js"
import { RunLedger, summarize } from "./RunLedger.js"
import { sandboxRequested, startSandboxEnv } from "./SandboxEnv.js"
import { startScheduler } from "./Scheduler.js"
import { SecretResolver } from "./SecretResolver.js"
import { layerServiceLogger } from "./ServiceLogger.js"
import { formatLag } from "./StatusPage.js"
import { buildStatusReport, formatStatusReport, StatusReport } from "./StatusReport.js"
import { type ErasureGate, StreamRunner } from "./StreamRunner.js"
import { planStreamKeys, planStreamsWith } from "./Streams.js"
import { isDue } from "./SyncStream.js"
import { makeTieOutCommand } from "./TieOutCommand.js"
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

/**
 * Loads the config from the flag/`KURA_CONFIG` and the environment; prints problems and fails on
 * error. `check` leaves the local stores to its own rows (`localStores: false`).
 */
const loadConfig = (configPath: Option.Option<string>, options: { readonly localStores?: boolean } = {}) =>
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
    const config = yield* loadAppConfig({ env: { ...process.env, ...sandbox }, file })
    if (options.localStores === false) return config
    const storeProblems = checkLocalStores(config.warehouseSettings, {
      warehouse: process.env.KURA_WAREHOUSE
        ? "KURA_WAREHOUSE"
        : `KURA_WAREHOUSE (unset${path ? ` and ${path}'s warehouse` : ""}: ${config.warehouse})`,
      lake: process.env.KURA_LAKE
        ? "KURA_LAKE"
        : `KURA_LAKE (unset${path ? ` and ${path}'s lake` : ""}: ${config.lake})`
    })
    if (storeProblems.length > 0) return yield* new ConfigError({ problems: storeProblems })
    return config
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
 * Whether the source clients talk to emulators (plain HTTP allowed, fast retries): the built-in
 * sandbox, or one started apart (`npx kura-sandbox`) on this machine.
 */
const talksToEmulators = (config: AppConfig): boolean => config.sandbox || config.localEmulator === true

/** Where Lightspeed's single-use refresh tokens rotate for `config` (see `runnerLayer`). */
const tokenStoreFor = (config: AppConfig, warehouse: Warehouse["Service"]) =>
  config.sandbox
    ? makeMemoryTokenStore(new Map())
    : config.tokenStore === "warehouse"
      ? WarehouseTokenStore.make(
          warehouse,
          Option.match(config.tokenEncryptionKey, {
            onNone: () => ({}),
            onSome: (encryptionKey) => ({ encryptionKey })
          })
        )
      : makeFileTokenStore(tokenFilePath(config))

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
      yield* boundDuckDb(warehouse, process.env)
      const tokenStore = tokenStoreFor(config, warehouse)
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
        sandbox: talksToEmulators(config),
        ...(sandbox === undefined
          ? {}
          : {
              lightspeedFromDate: new Date(now - ((sandbox.historyDays ?? 365) + 2) * 86_400_000)
                .toISOString()
                .slice(0, 10)
            })
      })
      const store = yield* ObjectStore
      // Shops erased by shop/redact are not synced again (their streams are refused), and one
      // erased while a pass ran is erased again after it.
      const redaction = makeRedaction(warehouse, store, redactionOptionsFor(config))
      const ledger = makeLedgerCache(redaction)
      // Customers erased earlier stay erased when a run brings their records back (docs/privacy.md).
      const afterRun = reapplyRedactionsWhenAny(ledger).pipe(
        Effect.provideService(Warehouse, warehouse),
        Effect.provideService(ObjectStore, store)
      )
      const erasure: ErasureGate = {
        read: Effect.map(ledger.entries, erasedOf),
        eraseAgain: (accounts) => eraseAgain(redaction, accounts)
      }
      return StreamRunner.layer(plan.streams, config.drainTimeoutMs, { afterRun, erasure })
    })
  )

/** DuckDB's buffer pool for `run` and `serve` unless `KURA_DUCKDB_MEMORY_LIMIT` says otherwise. */
export const DUCKDB_MEMORY_LIMIT = "256MB"

/** DuckDB's allocator flush thresholds for `run` and `serve` unless `KURA_DUCKDB_ALLOCATOR_FLUSH` says otherwise. */
export const DUCKDB_ALLOCATOR_FLUSH = "8MB"

const sizeProblem = (field: string, value: string, fallback: string) => ({
  field,
  message: `"${value}" is not a memory size`,
  fix: `set a size such as 8MB or 1GB (default ${fallback}), or unset it`
})

/**
 * Bounds an embedded DuckDB: its buffer pool (`memory_limit`, `KURA_DUCKDB_MEMORY_LIMIT`; DuckDB
 * spills beyond it; its own default is 80 % of the machine's RAM, which on Cloud Run or a laptop
 * means caching until the process is killed) and when it hands freed memory back to the system
 * (`allocator_flush_threshold` and its bulk twin, `KURA_DUCKDB_ALLOCATOR_FLUSH`: at DuckDB's
 * defaults of 128/512 MiB, freed buffers of raw JSON payloads stayed in the process; kura-backfill
 * measured a repeated raw load growing 260 → 940 MiB RSS, flat at 8MB). The same knobs as
 * kura-backfill's. No-op on BigQuery.
 */
export const boundDuckDb = (
  warehouse: Warehouse["Service"],
  env: Readonly<Record<string, string | undefined>>
) =>
  Effect.gen(function* () {
    if (warehouse.dialect.name !== "duckdb") return
    const read = (name: string, fallback: string) => {
      const v = env[name]?.trim()
      return v === undefined || v === "" ? fallback : v
    }
    const limit = read("KURA_DUCKDB_MEMORY_LIMIT", DUCKDB_MEMORY_LIMIT)
    const flush = read("KURA_DUCKDB_ALLOCATOR_FLUSH", DUCKDB_ALLOCATOR_FLUSH)
    const isSize = (v: string) => /^\d+(\.\d+)?\s*(KB|MB|GB|KiB|MiB|GiB)$/i.test(v)
    const problems = [
      ...(isSize(limit) ? [] : [sizeProblem("KURA_DUCKDB_MEMORY_LIMIT", limit, DUCKDB_MEMORY_LIMIT)]),
      ...(isSize(flush) ? [] : [sizeProblem("KURA_DUCKDB_ALLOCATOR_FLUSH", flush, DUCKDB_ALLOCATOR_FLUSH)])
    ]
    if (problems.length > 0) {
      const error = new ConfigError({ problems })
      yield* Console.error(error.message)
      return yield* error
    }
    // One round trip on the warehouse connection for the three settings.
    yield* warehouse.query(
      `SET memory_limit = '${limit}'; SET allocator_flush_threshold = '${flush}'; SET allocator_bulk_deallocation_flush_threshold = '${flush}'`
    )
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
      // Marks where the pass's own work starts (warehouse open onwards); the incremental bench times from it.
      yield* Effect.logInfo("run: pass started")
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
        // Forced, the ledger's history decides nothing, so it is not read (a query per run).
        const forced = flags.force || Option.isSome(flags.stream)
        const now = yield* Clock.currentTimeMillis
        const history = forced
          ? []
          : summarize(
              selected.map((s) => s.key),
              yield* (yield* RunLedger).list(),
              now
            )
        const due = new Set<string>()
        for (const [i, stream] of selected.entries()) {
          const h = history[i]
          const id = streamKeyToString(stream.key)
          if (
            forced ||
            h === undefined ||
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
        // The warehouse is open and the streams start: the Ctrl-C test waits for this line.
        yield* Effect.logInfo(`run: ${due.size} stream(s) running`)
        const results = yield* runner.runNow({ ...selector, only: due }, "cli")
        const failed: Array<string> = []
        for (const r of results) {
          if ("_tag" in r && r._tag === "Refused") {
            // An erased shop still configured: the operator must act (exit 1 until they do).
            failed.push(streamKeyToString(r.key))
            yield* Console.log(`${streamKeyToString(r.key)}: refused, ${r.reason}`)
            continue
          }
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
          sandbox: talksToEmulators(config),
          redaction: redactionOptionsFor(config)
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
        Effect.provide(layerServiceLogger(process.env, "serve", Option.getOrUndefined(config.project)))
      )
    })
).pipe(
  Command.withDescription(
    "Start the HTTP service (Cloud Run): triggers, webhooks, health, metrics, status page"
  )
)

/**
 * Commands whose stdout is data (`--json` documents, tables) log to stderr, so the log line of a
 * sandbox start or a warning never lands inside the document a script pipes into `jq`.
 */
const dataOnStdout = <const Name extends string, Input, ContextInput, E, R>(
  self: Command.Command<Name, Input, ContextInput, E, R>
) => Command.provideSync(self, Logger.LogToStderr, true)

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
        // A protected status page (Cloud Run, KURA_STATUS_PUBLIC=0) takes the trigger secret.
        const secret = process.env.KURA_TRIGGER_SECRET?.trim()
        report = yield* Effect.tryPromise({
          try: async () => {
            const res = await fetch(`${base}/status.json`, {
              headers: secret ? { authorization: `Bearer ${secret}` } : {}
            }).catch((cause: unknown) => {
              const why =
                cause instanceof Error && cause.cause instanceof Error ? cause.cause.message : String(cause)
              throw new Error(`cannot connect (${why}); is \`kura-sync serve\` running there?`)
            })
            if (res.status === 401 || res.status === 403)
              throw new Error(
                `HTTP ${res.status}: the status page is protected (on Cloud Run, or KURA_STATUS_PUBLIC=0); set KURA_TRIGGER_SECRET to the service's trigger secret and status --url sends it`
              )
            if (!res.ok) throw new Error(`HTTP ${res.status}`)
            return res.json()
          },
          catch: (cause) => new Error(cause instanceof Error ? cause.message : String(cause))
        }).pipe(
          Effect.flatMap(Schema.decodeUnknownEffect(StatusReport)),
          Effect.mapError((e) => new RunFailed({ failed: [`${base}/status.json: ${e.message}`] })),
          Effect.tapError((e) => Console.error(`cannot read status from ${base}: ${e.failed[0]}`))
        )
      } else {
        const config = yield* loadConfig(flags.config)
        report = yield* buildStatusReport(planStreamKeys(config), config.skipped).pipe(
          // A status only reads: lake retention is left to run and serve.
          Effect.provide(stateLayers(config, { retention: false })),
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
).pipe(Command.withDescription("Print cursors, lag, last runs and errors"), dataOnStdout)

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

/**
 * `--since`: an ISO date or time ("2026-11-20", "2026-11-20T08:00:00Z"), or an age ("90m", "24h",
 * "7d") counted back from now.
 */
export const parseSince = (text: string, now: number): number | undefined => {
  const t = text.trim()
  const age = parseDuration(t)
  if (Option.isSome(age)) return now - age.value
  if (!/^\d{4}-\d{2}-\d{2}/.test(t)) return undefined
  const at = Date.parse(/^\d{4}-\d{2}-\d{2}$/.test(t) ? `${t}T00:00:00Z` : t)
  return Number.isNaN(at) ? undefined : at
}

const letterFlags = {
  config: configFlag,
  source: Flag.String("source").pipe(
    Flag.withDescription("Only this source (shopify, lightspeed, stocky)"),
    Flag.optional
  ),
  account: Flag.String("account").pipe(
    Flag.withDescription("Only this account (shop domain, Lightspeed account name, Stocky store)"),
    Flag.optional
  ),
  stream: Flag.String("stream").pipe(
    Flag.withDescription("Only this stream (for load rejections: the table)"),
    Flag.optional
  ),
  reason: Flag.String("reason").pipe(
    Flag.withDescription(
      "Only this reason (decode, map, orphan, type_changed, missing_field, invalid_field)"
    ),
    Flag.optional
  ),
  since: Flag.String("since").pipe(
    Flag.withDescription('Only letters written since a date/time (2026-11-20, ISO) or an age ("24h", "7d")'),
    Flag.optional
  )
}

/** The selection of the shared flags; a bad `--since` is a named configuration error. */
const selectionOf = (flags: {
  readonly source: Option.Option<string>
  readonly account: Option.Option<string>
  readonly stream: Option.Option<string>
  readonly reason: Option.Option<string>
  readonly since: Option.Option<string>
}) =>
  Effect.gen(function* () {
    const out: {
      source?: string
      account?: string
      stream?: string
      reason?: string
      since?: number
    } = {}
    if (Option.isSome(flags.source)) out.source = flags.source.value
    if (Option.isSome(flags.account)) out.account = flags.account.value
    if (Option.isSome(flags.stream)) out.stream = flags.stream.value
    if (Option.isSome(flags.reason)) out.reason = flags.reason.value
    if (Option.isSome(flags.since)) {
      const since = parseSince(flags.since.value, yield* Clock.currentTimeMillis)
      if (since === undefined) {
        const error = new ConfigError({
          problems: [
            {
              field: "--since",
              message: `"${flags.since.value}" is neither a date nor an age`,
              fix: "use a date or time such as 2026-11-20 or 2026-11-20T08:00:00Z, or an age such as 24h or 7d"
            }
          ]
        })
        yield* Console.error(error.message)
        return yield* error
      }
      out.since = since
    }
    return out satisfies LetterSelection
  })

/** Opens the configured warehouse (and lake) for a dead-letter command, bounded like `run`. */
const withWarehouse = <A, R>(
  config: AppConfig,
  use: (warehouse: Warehouse["Service"], lake: RawLake["Service"]) => Effect.Effect<A, WarehouseError, R>
) =>
  Effect.gen(function* () {
    const warehouse = yield* Warehouse
    yield* boundDuckDb(warehouse, process.env)
    return yield* use(warehouse, yield* RawLake)
  }).pipe(
    Effect.provide(stateLayers(config)),
    Effect.catchTag("WarehouseError", (e) =>
      Console.error(
        /lock/i.test(e.message)
          ? `the warehouse ${config.warehouse} is held by a running kura-sync (DuckDB allows one process); stop it or run this against BigQuery`
          : `cannot open the warehouse: ${e.message}`
      ).pipe(Effect.andThen(Effect.fail(new RunFailed({ failed: ["dead-letters"] }))))
    )
  )

const iso = (at: number) => new Date(at).toISOString().replace(/\.\d{3}Z$/, "Z")
const oneLine = (text: string, max = 240) => {
  const flat = text.replace(/\s+/g, " ").trim()
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat
}

const deadLettersListCommand = Command.make(
  "list",
  {
    ...letterFlags,
    all: Flag.Boolean("all").pipe(
      Flag.withDescription("Include letters already replayed"),
      Flag.withDefault(false)
    ),
    json: Flag.Boolean("json").pipe(
      Flag.withDescription("Print JSON: the groups and every letter with its payload"),
      Flag.withDefault(false)
    ),
    showPayload: Flag.Boolean("show-payload").pipe(
      Flag.withDescription("Also print each letter with its raw payload"),
      Flag.withDefault(false)
    )
  },
  (flags) =>
    Effect.gen(function* () {
      const config = yield* loadConfig(flags.config)
      const selection = yield* selectionOf(flags)
      yield* withWarehouse(config, (warehouse) =>
        Effect.gen(function* () {
          const letters = yield* selectLetters(warehouse, { ...selection, includeReplayed: flags.all })
          const groups = groupLetters(letters)
          if (flags.json) {
            yield* Console.log(
              JSON.stringify(
                {
                  pending: letters.filter((l) => l.replayedAt === null).length,
                  total: letters.length,
                  groups,
                  letters: letters.map((l) => ({
                    id: l.id,
                    key: l.key,
                    sourceId: l.sourceId,
                    reason: l.reason,
                    detail: l.detail,
                    origin: l.origin,
                    at: iso(l.at),
                    attempts: l.attempts,
                    replayedAt: l.replayedAt === null ? null : iso(l.replayedAt),
                    payload: l.payload
                  }))
                },
                null,
                2
              )
            )
            return
          }
          if (letters.length === 0) {
            yield* Console.log(flags.all ? "no dead letters" : "no pending dead letters")
            return
          }
          yield* Console.log(
            `${letters.length} ${flags.all ? "" : "pending "}dead letter(s) in ${groups.length} group(s):`
          )
          for (const g of groups) {
            yield* Console.log(
              `  ${g.source}/${g.account}/${g.stream}  ${g.reason}  ${g.count}${flags.all ? ` (${g.replayed} replayed)` : ""}  ${iso(g.oldestAt)} .. ${iso(g.newestAt)}`
            )
            yield* Console.log(
              `    newest: id ${g.newest.id}${g.newest.sourceId === null ? "" : `, record ${g.newest.sourceId}`}: ${oneLine(g.newest.detail)}`
            )
          }
          if (flags.showPayload)
            for (const l of letters)
              yield* Console.log(
                `${l.id} ${l.key.source}/${l.key.account}/${l.key.stream} ${l.reason}${l.sourceId === null ? "" : ` record ${l.sourceId}`} (${l.attempts} attempt(s)${l.replayedAt === null ? "" : `, replayed ${iso(l.replayedAt)}`}): ${l.payload}`
              )
        })
      )
    })
).pipe(Command.withDescription("List dead letters grouped by source, stream and reason"), dataOnStdout)

const deadLettersReplayCommand = Command.make(
  "replay",
  {
    ...letterFlags,
    id: Flag.String("id").pipe(Flag.withDescription("Only this letter (repeatable)"), Flag.atLeast(0)),
    dryRun: Flag.Boolean("dry-run").pipe(
      Flag.withDescription("Decode and map only: load nothing, mark nothing"),
      Flag.withDefault(false)
    ),
    payloadFile: Flag.String("payload-file").pipe(
      Flag.withDescription(
        "With one --id: replay this JSON record (the record as corrected upstream) instead of the stored payload"
      ),
      Flag.optional
    ),
    payloadsFile: Flag.String("payloads-file").pipe(
      Flag.withDescription(
        'Replay many letters with corrected records: a JSON object of letter id to record ({"<id>": {…}, …}); only those letters replay'
      ),
      Flag.optional
    ),
    json: Flag.Boolean("json").pipe(
      Flag.withDescription("Print the summary as JSON"),
      Flag.withDefault(false)
    )
  },
  (flags) =>
    Effect.gen(function* () {
      const config = yield* loadConfig(flags.config)
      const selection = yield* selectionOf(flags)
      let payloadOverride: string | undefined
      if (Option.isSome(flags.payloadFile)) {
        if (flags.id.length !== 1) {
          const error = new ConfigError({
            problems: [
              {
                field: "--payload-file",
                message: `replaces the payload of exactly one letter (${flags.id.length} --id given)`,
                fix: "name the letter with one --id (kura-sync dead-letters list --json shows ids)"
              }
            ]
          })
          yield* Console.error(error.message)
          return yield* error
        }
        const path = flags.payloadFile.value
        payloadOverride = yield* Effect.tryPromise(() => readFile(path, "utf8")).pipe(
          Effect.mapError(
            (e) =>
              new ConfigError({
                problems: [
                  {
                    field: "--payload-file",
                    message: `cannot read ${path} (${e.cause instanceof Error ? e.cause.message : String(e.cause)})`,
                    fix: "point it at a file holding the corrected record as JSON"
                  }
                ]
              })
          ),
          Effect.tapError((e) => Console.error(e.message))
        )
      }
      let payloadOverrides: ReadonlyMap<string, string> | undefined
      if (Option.isSome(flags.payloadsFile)) {
        const path = flags.payloadsFile.value
        const problem = (message: string, fix: string) =>
          new ConfigError({ problems: [{ field: "--payloads-file", message, fix }] })
        if (flags.id.length > 0 || Option.isSome(flags.payloadFile)) {
          const error = problem(
            "names its letters itself (its keys are letter ids)",
            "drop --id and --payload-file, or put those letters in the file"
          )
          yield* Console.error(error.message)
          return yield* error
        }
        payloadOverrides = yield* Effect.tryPromise(() => readFile(path, "utf8")).pipe(
          Effect.mapError((e) =>
            problem(
              `cannot read ${path} (${e.cause instanceof Error ? e.cause.message : String(e.cause)})`,
              "point it at a JSON object of letter id to corrected record"
            )
          ),
          Effect.flatMap((text) =>
            Effect.try({
              try: (): unknown => JSON.parse(text),
              catch: () =>
                problem(`${path} is not JSON`, "write a JSON object of letter id to corrected record")
            })
          ),
          Effect.flatMap((parsed) =>
            typeof parsed === "object" &&
            parsed !== null &&
            !Array.isArray(parsed) &&
            Object.keys(parsed).length > 0
              ? Effect.succeed(
                  new Map(Object.entries(parsed).map(([id, record]) => [id, JSON.stringify(record)] as const))
                )
              : Effect.fail(
                  problem(
                    `${path} holds no letters`,
                    'write a non-empty JSON object such as {"<letter id>": {…corrected record…}}'
                  )
                )
          ),
          Effect.tapError((e) => Console.error(e.message))
        )
      }
      const ids = payloadOverrides === undefined ? flags.id : [...payloadOverrides.keys()]
      const summary = yield* withWarehouse(config, (warehouse, lake) =>
        Effect.gen(function* () {
          // Shopify replayers ask the shop for its facts through a client released at the end.
          const releases: Array<Effect.Effect<void>> = []
          yield* Effect.addFinalizer(() => Effect.all(releases, { discard: true }))
          return yield* replayLetters(warehouse, {
            selection: { ...selection, ...(ids.length > 0 ? { ids } : {}) },
            replayers: allReplayers(
              {
                ...config.sourceTuning,
                warehouse,
                lake,
                sandbox: talksToEmulators(config),
                tokenStore: tokenStoreFor(config, warehouse),
                onRelease: (release) => releases.push(release)
              },
              { shopify: config.shopify, lightspeed: config.lightspeed }
            ),
            ...(flags.dryRun ? { dryRun: true } : {}),
            ...(payloadOverride === undefined ? {} : { payloadOverride }),
            ...(payloadOverrides === undefined ? {} : { payloadOverrides })
          })
        }).pipe(Effect.scoped)
      )
      if (flags.json) yield* Console.log(JSON.stringify(summary, null, 2))
      else {
        for (const l of summary.letters) {
          const where = `${l.key.source}/${l.key.account}/${l.key.stream}`
          const rows = Object.entries(l.rows)
            .map(([t, n]) => `${n} ${t}`)
            .join(", ")
          yield* Console.log(
            `${l.id} ${where} ${l.reason}${l.sourceId === null ? "" : ` record ${l.sourceId}`}: ${l.status}` +
              (rows === "" ? "" : ` (${rows})`) +
              (l.error === undefined ? "" : `: ${oneLine(l.error)}`)
          )
        }
        yield* Console.log(
          `${summary.dryRun ? "dry run: " : ""}attempted ${summary.attempted}, ${summary.dryRun ? "would replay" : "replayed"} ${summary.replayed}, failed ${summary.failed}`
        )
      }
      // Letters the file names that were not replayed (already replayed, or no such letter).
      const seen = new Set(summary.letters.map((l) => l.id))
      const notPending = payloadOverrides === undefined ? [] : ids.filter((id) => !seen.has(id))
      if (notPending.length > 0)
        yield* Console.error(
          `${notPending.length} letter(s) of --payloads-file are not pending (already replayed, or no such id): ${notPending.slice(0, 10).join(", ")}${notPending.length > 10 ? ", …" : ""}`
        )
      if (summary.failed > 0 || notPending.length > 0)
        return yield* new RunFailed({
          failed: [...summary.letters.filter((l) => l.status === "failed").map((l) => l.id), ...notPending]
        })
    })
).pipe(
  Command.withDescription(
    "Re-run pending dead letters through their stream's decoder, mapper and load; exits 1 if any failed"
  ),
  dataOnStdout
)

const deadLettersCommand = Command.make("dead-letters").pipe(
  Command.withDescription("List and replay records the sync could not load (_kura_dead_letters)"),
  Command.withSubcommands([deadLettersListCommand, deadLettersReplayCommand])
)

const checkCommand = Command.make(
  "check",
  {
    config: configFlag,
    json: Flag.Boolean("json").pipe(
      Flag.withDescription("Print the report as JSON (for CI and deployment pipelines)"),
      Flag.withDefault(false)
    ),
    timeout: Flag.String("timeout").pipe(
      Flag.withDescription("Longest wait for each check (default 20s)"),
      Flag.optional
    )
  },
  (flags) =>
    Effect.gen(function* () {
      let timeoutMs = DEFAULT_CHECK_TIMEOUT_MS
      if (Option.isSome(flags.timeout)) {
        const parsed = parseDuration(flags.timeout.value)
        if (Option.isNone(parsed)) {
          const error = new ConfigError({
            problems: [
              {
                field: "--timeout",
                message: `"${flags.timeout.value}" is not a duration`,
                fix: "use 20s, 1m or 500ms"
              }
            ]
          })
          yield* Console.error(error.message)
          return yield* error
        }
        timeoutMs = parsed.value
      }
      // A pipeline reading --json gets the configuration problems as JSON too (exit 2 either way).
      const config = yield* loadConfig(flags.config, { localStores: false }).pipe(
        Effect.tapError((e) =>
          flags.json && e._tag === "ConfigError"
            ? Console.log(JSON.stringify({ ok: false, configProblems: e.problems }, null, 2))
            : Effect.void
        )
      )
      const rows = yield* runChecks(config, { timeoutMs })
      yield* Console.log(
        flags.json
          ? JSON.stringify(checkReportJson(rows, yield* Clock.currentTimeMillis), null, 2)
          : formatCheckTable(rows)
      )
      if (checkExitCode(rows) !== 0)
        return yield* new RunFailed({ failed: rows.filter((r) => r.status === "FAIL").map((r) => r.name) })
    })
).pipe(
  Command.withDescription(
    "Preflight before deploying: validates the configuration, then checks the warehouse (schema version and pending migrations, never applied), the lake (lists it, writes and deletes a probe object under _kura_check/), each configured source (Shopify token, API version, scopes and rate limit; Lightspeed login and locations, a rotated single-use refresh token kept in the run's token store; Stocky key and store) and clock skew. Every check is bounded by --timeout and runs concurrently; no secret is printed. Exits 0 when all are ok or warn, 1 on any FAIL, 2 on a configuration error; --json for pipelines"
  ),
  dataOnStdout
)

/** `redact customer | shop | list | reapply` (RedactCommand.ts). */
const redactCommand = makeRedactCommand({ configFlag, loadConfig, boundDuckDb })

/** `tie-out`: the warehouse against Shopify's own Analytics (TieOutCommand.ts). */
const tieOutCommand = makeTieOutCommand({ configFlag, loadConfig }).pipe(dataOnStdout)

/** The root command. */
export const cli = Command.make("kura-sync").pipe(
  Command.withDescription(
    "Kura sync runner: keeps the warehouse in sync with Shopify, Lightspeed and Stocky. Configured by environment variables (SHOPIFY_*, LIGHTSPEED_*, STOCKY_*, KURA_WAREHOUSE, KURA_LAKE, …; every one with its default in docs/configuration.md) or --config FILE; KURA_SANDBOX=1 tries it against built-in emulators."
  ),
  Command.withSubcommands([
    runCommand,
    serveCommand,
    statusCommand,
    webhooksCommand,
    deadLettersCommand,
    checkCommand,
    redactCommand,
    tieOutCommand
  ])
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
