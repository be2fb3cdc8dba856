/**
 * The `kura-backfill` command line. Only this module (and main.ts) reads the process environment.
 */
import { FileTokenStore, HttpTransport, TokenStore } from "@kura/core"
import { ShopifyBulk, ShopifyClient } from "@kura/shopify-client"
import {
  DuckDbWarehouse,
  LocalObjectStore,
  RawLake,
  Warehouse,
  WarehouseConfig,
  WarehouseStores,
  WarehouseTokenStore
} from "@kura/warehouse"
import { Console, Effect, Exit, Layer, Option, Redacted } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { errorExitCode } from "effect/Runtime"
import { type BackfillResult, runBackfill } from "./Backfill.js"
import {
  type BackfillConfig,
  BackfillConfigError,
  checkLocalStores,
  parseBackfillConfig,
  type ShopifySettings
} from "./BackfillConfig.js"
import { BackfillError } from "./BackfillError.js"
import { backfillLogFormat } from "./BackfillLogger.js"
import { logBackfillOutcome, logBackfillRefused } from "./BackfillOutcome.js"
import { lightspeedClientLayer, lightspeedSource } from "./LightspeedBackfill.js"
import { fileMemoryTrace, noMemoryTrace } from "./MemoryTrace.js"
import type { ProgressOutput } from "./Progress.js"
import { reapplyAfter } from "./Redactions.js"
import { relinkAfterProducts } from "./RelinkVariants.js"
import { sandboxRequested, startSandboxEnv } from "./SandboxEnv.js"
import { shopifySource } from "./ShopifyBackfill.js"
import { stockyClientLayer, stockySource } from "./StockyBackfill.js"

/** The warehouse and the lake of a run. */
export const storageLayer = (config: BackfillConfig, env: Readonly<Record<string, string | undefined>>) =>
  Layer.unwrap(
    Effect.gen(function* () {
      const warehouse = yield* WarehouseConfig.parseWarehouse(config.warehouse)
      const lake = yield* WarehouseConfig.parseLake(config.lake)
      if (warehouse.kind === "duckdb" && lake.kind === "file") {
        // DuckDB caches what it reads up to 80 % of RAM by default; a bounded memory_limit makes
        // it spill instead, so a long history stays flat.
        // 128MB with one thread, loads of ≤ 5,000 orders (now 20,000) and a checkpoint after each window:
        // DuckDB's native memory outside its accounting rises with the limit (100k orders
        // peaked at 488 MiB RSS at 160MB, 464 at 128MB, loaded box, 2026-11-27). Without the per-window
        // checkpoint 128MB ran out of memory in the raw insert (the previous window's rows
        // were still in memory), and with two threads in the fast path's joins.
        const memory = env.KURA_DUCKDB_MEMORY_LIMIT ?? "128MB"
        const flush = env.KURA_DUCKDB_ALLOCATOR_FLUSH ?? "8MB"
        return Layer.mergeAll(
          DuckDbWarehouse.layer({
            path: warehouse.path,
            // Ctrl-C / SIGTERM: the running statement is interrupted and awaited up to this long
            // before the close, well inside main.ts's 8 s watchdog (DuckDB stops in milliseconds).
            interruptGraceMs: 5_000,
            ...(config.duckDbConnections === undefined ? {} : { connections: config.duckDbConnections }),
            config: {
              memory_limit: memory,
              // One thread by default: the fast path's staging read holds ~100 MB per DuckDB
              // thread, so two threads ran a 10k-order load out of 256MB (the 1M-order bench
              // lost 84% of its windows that way); downloads and mapping use the other core.
              threads: env.KURA_DUCKDB_THREADS ?? "1",
              // DuckDB hands memory back to the system (malloc_trim on glibc) after a task or a
              // bulk free above these sizes. At their defaults (128 MiB and 512 MiB) freed buffers
              // of the raw loads' ~1.5 KB JSON payloads stayed in the process: a repeated
              // 40k-line raw insert grew 260 → 940 MiB RSS over 16 rounds, and stayed at
              // 320–620 MiB with both at 8MB (BENCHMARKS.md §6).
              allocator_flush_threshold: flush,
              allocator_bulk_deallocation_flush_threshold: flush
            }
          }),
          RawLake.layer.pipe(Layer.provideMerge(LocalObjectStore.layer(lake.dir)))
        )
      }
      return WarehouseConfig.layerFromSettings({
        warehouse,
        lake,
        bigQueryLocation: Option.fromNullishOr(env.KURA_BIGQUERY_LOCATION),
        lakeRetentionDays: Option.none()
      })
    })
  )

/** The Shopify clients of a run. */
const shopifyLayer = (config: BackfillConfig, shopify: ShopifySettings) => {
  const client = ShopifyClient.layerStatic({
    shop: shopify.shop,
    accessToken: Redacted.value(shopify.accessToken),
    apiVersion: shopify.apiVersion,
    ...(shopify.baseUrl === undefined ? {} : { baseUrl: shopify.baseUrl })
  })
  const bulk = ShopifyBulk.layer({
    ...(config.concurrency < 5 ? { concurrency: config.concurrency } : {}),
    pollMinMillis: config.bulkPollMillis,
    pollMaxMillis: Math.max(config.bulkPollMillis, Math.min(30_000, config.bulkPollMillis * 30)),
    busyRetryMillis: config.bulkBusyRetryMillis
  })
  return bulk.pipe(
    Layer.provideMerge(client),
    // Merged: the fast path downloads bulk results through the same transport.
    Layer.provideMerge(HttpTransport.layer()),
    Layer.provide(WarehouseStores.layer)
  )
}

const missing = (what: string) =>
  Effect.fail(new BackfillError({ reason: "Failed", message: `internal: ${what} settings missing` }))

/**
 * Runs the configured backfill with its source's clients over the warehouse and lake. Failures
 * are `BackfillError`s (with the exit code) or the storage's own errors.
 */
export const runConfigured = (
  config: BackfillConfig,
  env: Readonly<Record<string, string | undefined>>,
  out: ProgressOutput
): Effect.Effect<BackfillResult, BackfillError> => {
  const asBackfillError = (e: { readonly message: string }) =>
    e instanceof BackfillError ? e : new BackfillError({ reason: "Failed", message: e.message })
  const storage = storageLayer(config, env)
  const announce = backfillLogFormat(env) === "json"
  /** Every source's run ends the same way: its failures as BackfillErrors, its outcome logged. */
  const finish =
    (account: string) =>
    <R>(run: Effect.Effect<BackfillResult, BackfillError | { readonly message: string }, R>) =>
      run.pipe(
        Effect.mapError(asBackfillError),
        logBackfillOutcome({ source: config.source, account, task: config.task }, announce)
      )
  switch (config.source) {
    case "shopify": {
      const shopify = config.shopify
      if (shopify === undefined) return missing("Shopify")
      // A debugging aid: memory per phase of a window, written to this file.
      const traceFile = env.KURA_BACKFILL_MEMORY_TRACE
      const trace = traceFile ? fileMemoryTrace(traceFile) : noMemoryTrace
      const source = shopifySource(shopify.shop, {
        fastPath: config.shopifyFastPath,
        fastPathOptions: {
          ordersPerLoad: config.ordersPerLoad,
          checkpointAfterLoads: config.windowCheckpoint,
          checkpointEveryOrders: config.checkpointEveryOrders,
          trace
        }
      })
      // Products loaded (even by a run that then failed a window) may be the variants that lines
      // loaded earlier were waiting for.
      const relink =
        config.streams.includes("products") && !config.dryRun
          ? relinkAfterProducts(shopify.shop, out)
          : Effect.void
      return runBackfill(config, out, source, trace).pipe(
        Effect.tap(() => relink),
        Effect.tapError(() => relink),
        Effect.onExit((exit) => reapplyAfter(exit, out, { source: config.source, account: source.account })),
        Effect.provide(shopifyLayer(config, shopify).pipe(Layer.provideMerge(storage))),
        finish(source.account)
      )
    }
    case "lightspeed": {
      const lightspeed = config.lightspeed
      if (lightspeed === undefined) return missing("Lightspeed")
      const key = config.tokenEncryptionKey
      const tokens =
        config.tokenStore === "warehouse"
          ? // The token table must exist before the client seeds or reads it.
            Layer.effect(
              TokenStore,
              Effect.gen(function* () {
                const w = yield* Warehouse
                yield* w.migrate
                return WarehouseTokenStore.make(w, key === undefined ? {} : { encryptionKey: key })
              })
            )
          : FileTokenStore.layer(config.tokenStore.slice("file:".length))
      const source = lightspeedSource(lightspeed)
      return runBackfill(config, out, source).pipe(
        Effect.onExit((exit) => reapplyAfter(exit, out, { source: config.source, account: source.account })),
        Effect.provide(
          lightspeedClientLayer(lightspeed).pipe(Layer.provide(tokens), Layer.provideMerge(storage))
        ),
        finish(source.account)
      )
    }
    case "stocky": {
      const stocky = config.stocky
      if (stocky === undefined) return missing("Stocky")
      const source = stockySource(stocky)
      return runBackfill(config, out, source).pipe(
        Effect.onExit((exit) => reapplyAfter(exit, out, { source: config.source, account: source.account })),
        Effect.provide(
          stocky.archive === undefined || stocky.archiveWithApi
            ? stockyClientLayer(stocky).pipe(Layer.provideMerge(storage))
            : storage
        ),
        finish(source.account)
      )
    }
  }
}

const command = Command.make(
  "kura-backfill",
  {
    source: Argument.String("source").pipe(Argument.withDescription("shopify | lightspeed | stocky")),
    streams: Argument.String("streams").pipe(
      Argument.withDescription("Streams to load (default: orders for shopify)"),
      Argument.variadic()
    ),
    from: Flag.String("from").pipe(
      Flag.withDescription("First date to load (required), e.g. 2019-01-01"),
      Flag.optional
    ),
    to: Flag.String("to").pipe(
      Flag.withDescription("End (exclusive): now (default) or a date"),
      Flag.optional
    ),
    window: Flag.String("window").pipe(
      Flag.withDescription("Window length, e.g. 30d (default), 12h, 2w"),
      Flag.optional
    ),
    concurrency: Flag.Int("concurrency").pipe(
      Flag.withDescription("Windows in flight (Shopify: at most 5 bulk jobs)"),
      Flag.optional
    ),
    dryRun: Flag.Boolean("dry-run").pipe(
      Flag.withDescription("Print the plan and stop"),
      Flag.withDefault(false)
    ),
    resume: Flag.Boolean("resume").pipe(
      Flag.withDescription("Skip finished windows (the default)"),
      Flag.withDefault(false)
    ),
    restart: Flag.Boolean("restart").pipe(
      Flag.withDescription("Discard this share's window checkpoints first"),
      Flag.withDefault(false)
    ),
    archive: Flag.String("archive").pipe(
      Flag.withDescription("Stocky: archive directory or gs://bucket/prefix (instead of the retired API)"),
      Flag.optional
    )
  },
  (args) =>
    Effect.gen(function* () {
      const sandbox = sandboxRequested(process.env) ? yield* startSandboxEnv(process.env) : {}
      const env = { ...process.env, ...sandbox }
      const parsed = parseBackfillConfig(
        {
          source: args.source,
          streams: args.streams,
          from: Option.getOrUndefined(args.from),
          to: Option.getOrUndefined(args.to),
          window: Option.getOrUndefined(args.window),
          concurrency: Option.getOrUndefined(args.concurrency),
          dryRun: args.dryRun,
          resume: args.resume,
          restart: args.restart,
          archive: Option.getOrUndefined(args.archive)
        },
        env,
        Date.now()
      )
      const announce = backfillLogFormat(env) === "json"
      if (parsed instanceof BackfillConfigError) {
        yield* Console.error(parsed.message)
        yield* logBackfillRefused(args.source, parsed, announce)
        return yield* parsed
      }
      const unwritable = checkLocalStores(parsed)
      if (unwritable !== undefined) {
        yield* Console.error(unwritable.message)
        yield* logBackfillRefused(args.source, unwritable, announce)
        return yield* unwritable
      }
      const out = { isTTY: process.stdout.isTTY === true, write: (t: string) => void process.stdout.write(t) }
      yield* runConfigured(parsed, env, out).pipe(Effect.tapError((e) => Console.error(e.message)))
    })
).pipe(
  Command.withDescription(
    "Resumable historical backfill in explicit windows (bulk for Shopify), checkpointed in the warehouse, sharded over Cloud Run Job tasks. Configured by environment variables (SHOPIFY_*, LIGHTSPEED_*, STOCKY_*, KURA_WAREHOUSE, KURA_LAKE, …; every one with its default in docs/configuration.md); KURA_SANDBOX=1 tries it against built-in emulators. Ctrl-C stops it; the same command resumes."
  )
)

/** The command. */
export const cli = command

/** Exit code of a finished run: 0 ok, 1 a window did not tie or failed, 2 bad config, 3 missing scope. */
export const exitCodeOf = (exit: Exit.Exit<unknown, unknown>): number => {
  if (Exit.isSuccess(exit)) return 0
  const err = Exit.findErrorOption(exit)
  if (Option.isNone(err)) return exit.cause.reasons.every((r) => r._tag === "Interrupt") ? 130 : 1
  const e = err.value
  if (e instanceof BackfillError || e instanceof BackfillConfigError) return e[errorExitCode]
  return 1
}
