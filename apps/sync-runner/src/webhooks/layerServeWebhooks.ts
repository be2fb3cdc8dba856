/**
 * The webhook intake `kura-sync serve` runs: by default the batching path (write-ahead log in
 * `<stateDir>/webhooks`, batches landed in the lake, `_kura_raw` and the canonical tables); the
 * per-delivery path (one lake object per delivery, no canonical upsert) remains as a baseline.
 */
import { join } from "node:path"
import type { RawLake, RedactionOptions, Warehouse } from "@kura/warehouse"
import { Config, Context, Effect, Layer, Option } from "effect"
import type { ShopifyShopConfig } from "../AppConfig.js"
import { ConfigError, type ConfigProblem } from "../ConfigError.js"
import { layerLakeWebhookSink } from "../LakeWebhookSink.js"
import type { Metrics } from "../Metrics.js"
import { WebhookIntake, type WebhookIntakeOptions } from "../WebhookIntake.js"
import { IntakeThread } from "./IntakeThread.js"
import type { SyncMode } from "./SegmentLog.js"
import { ShopContext } from "./ShopContext.js"
import { layerWarehouseWebhookSink } from "./WarehouseWebhookSink.js"
import { WebhookBatcher, type WebhookBatcherOptions } from "./WebhookBatcher.js"

/**
 * Which intake to run: `batched` (default: the intake thread answers, the main thread lands),
 * `in-thread` (the same batching with intake and landing on the main thread, as before session 4),
 * `per-delivery` (the session-1 baseline).
 */
export type WebhookMode = "batched" | "in-thread" | "per-delivery"

/** Options of the serve intake. */
export interface ServeWebhooksOptions extends WebhookIntakeOptions {
  readonly mode?: WebhookMode
  readonly shops: ReadonlyArray<ShopifyShopConfig>
  /** The app's state directory; the write-ahead log lives in `<stateDir>/webhooks`. */
  readonly stateDir: string
  readonly sandbox?: boolean
  readonly batcher?: Partial<WebhookBatcherOptions>
  /** Options of the Redaction that carries out compliance topics (`redactionOptionsFor`: the file token store). */
  readonly redaction?: RedactionOptions
}

const WEBHOOK_MODES: ReadonlyArray<string> = ["batched", "in-thread", "per-delivery"]

/**
 * Reads `KURA_WEBHOOK_MODE` (`batched`, the default, `in-thread` or `per-delivery`); an unknown
 * value is refused by `webhookTuningConfig` at start.
 */
export const webhookModeOf = (value: string | undefined): WebhookMode => {
  const v = value?.trim().toLowerCase()
  return v === "per-delivery" || v === "in-thread" ? v : "batched"
}

const SYNC_VALUES: Readonly<Record<string, SyncMode>> = {
  window: "window",
  ack: "ack",
  true: "ack",
  off: "none",
  none: "none",
  false: "none"
}

const TUNING = [
  ["KURA_WEBHOOK_FLUSH_MS", "flushMs", "how often waiting records land, in ms (default 1000)"],
  ["KURA_WEBHOOK_MAX_BATCH", "maxBatch", "records per landed batch (default 5000)"],
  ["KURA_WEBHOOK_CAPACITY", "capacity", "records waiting to land before 503 (default 20000)"]
] as const

/**
 * Batcher tuning from the environment (Effect Config): `KURA_WEBHOOK_FLUSH_MS`,
 * `KURA_WEBHOOK_MAX_BATCH`, `KURA_WEBHOOK_CAPACITY` (positive integers) and `KURA_WEBHOOK_FSYNC`
 * (`window`, the default: answer after write(2), fdatasync every 100 ms; `ack`: fdatasync before
 * every answer; `off`).
 */
export const webhookTuningConfig = Effect.gen(function* () {
  const out: { -readonly [K in keyof WebhookBatcherOptions]?: WebhookBatcherOptions[K] } = {}
  const problems: Array<ConfigProblem> = []
  for (const [name, key, what] of TUNING) {
    const value = yield* Effect.result(Config.option(Config.Int(name)))
    if (value._tag === "Failure" || (Option.isSome(value.success) && value.success.value <= 0))
      problems.push({
        field: name,
        message: "not a positive integer",
        fix: `set ${name} to ${what}, or unset it`
      })
    else if (Option.isSome(value.success)) out[key] = value.success.value
  }
  const sync = yield* Effect.result(Config.option(Config.String("KURA_WEBHOOK_FSYNC")))
  const syncValue = sync._tag === "Success" ? Option.getOrUndefined(sync.success)?.trim().toLowerCase() : "?"
  if (syncValue !== undefined) {
    const mode = SYNC_VALUES[syncValue]
    if (mode === undefined)
      problems.push({
        field: "KURA_WEBHOOK_FSYNC",
        message: `"${syncValue}" is not a sync mode`,
        fix: "set window (default: fdatasync every 100 ms), ack (before every answer) or off, or unset it"
      })
    else out.sync = mode
  }
  // The mode itself is read by `webhookModeOf`; a value it does not know must not silently
  // fall back to the default.
  const mode = yield* Effect.result(Config.option(Config.String("KURA_WEBHOOK_MODE")))
  const modeValue = mode._tag === "Success" ? Option.getOrUndefined(mode.success)?.trim().toLowerCase() : "?"
  if (modeValue !== undefined && !WEBHOOK_MODES.includes(modeValue))
    problems.push({
      field: "KURA_WEBHOOK_MODE",
      message: `"${modeValue}" is not a webhook mode`,
      fix: "set batched (default: intake on its own thread), in-thread or per-delivery, or unset it"
    })
  if (problems.length > 0) return yield* new ConfigError({ problems })
  return out
})

/** The fault-injection switch of `killIntakeOnSignal`. */
export const KILL_INTAKE_ON_SIGUSR2 = "KURA_FAULT_KILL_INTAKE_ON_SIGUSR2"

/**
 * Fault injection for the reliability suite (`npm run chaos`, check intake-kill): with
 * `KURA_FAULT_KILL_INTAKE_ON_SIGUSR2=1`, each SIGUSR2 the process receives terminates the
 * webhook intake thread as a crash would, and it is restarted like any thread that died. Off
 * unless set; never set it in production.
 */
export const killIntakeOnSignal = (thread: Pick<IntakeThread["Service"], "killThread">) =>
  Effect.gen(function* () {
    const on = yield* Config.Boolean(KILL_INTAKE_ON_SIGUSR2).pipe(Config.withDefault(false))
    if (!on) return
    const kill = () => {
      Effect.runFork(thread.killThread)
    }
    yield* Effect.acquireRelease(
      Effect.sync(() => process.on("SIGUSR2", kill)),
      () => Effect.sync(() => process.off("SIGUSR2", kill))
    )
    yield* Effect.logWarning(`${KILL_INTAKE_ON_SIGUSR2} is set: SIGUSR2 kills the webhook intake thread`)
  }).pipe(
    Effect.mapError(
      () =>
        new ConfigError({
          problems: [
            {
              field: KILL_INTAKE_ON_SIGUSR2,
              message: "not a boolean",
              fix: `set ${KILL_INTAKE_ON_SIGUSR2} to 1 (fault injection for the reliability suite) or unset it`
            }
          ]
        })
    )
  )

/**
 * The intake layer for `serve`; batcher tuning comes from `webhookTuningConfig` unless given. In
 * the default mode its context also holds the IntakeThread, which `startHttpService` looks up to
 * let the intake thread own the socket.
 */
export const layerServeWebhooks = (
  options: ServeWebhooksOptions
): Layer.Layer<WebhookIntake, ConfigError, Warehouse | RawLake | Metrics> => {
  if (options.mode === "per-delivery")
    return WebhookIntake.layer(options).pipe(
      Layer.provide(
        layerLakeWebhookSink(options.redaction === undefined ? {} : { redactionOptions: options.redaction })
      )
    )
  const tuning = options.batcher === undefined ? webhookTuningConfig : Effect.succeed(options.batcher)
  const dir = join(options.stateDir, "webhooks")
  const intake =
    options.mode === "in-thread"
      ? WebhookIntake.layerBatched(options).pipe(
          Layer.provide(Layer.unwrap(Effect.map(tuning, (t) => WebhookBatcher.layer({ dir, ...t }))))
        )
      : Layer.unwrap(
          Effect.map(tuning, (t) =>
            IntakeThread.layer({
              dir,
              ...t,
              secrets: Object.fromEntries(options.shops.map((s) => [s.shop, options.secretsFor(s.shop)]))
            })
          )
        ).pipe(Layer.tap((context) => killIntakeOnSignal(Context.get(context, IntakeThread))))
  return intake.pipe(
    Layer.provide(
      layerWarehouseWebhookSink(
        options.redaction === undefined ? {} : { redactionOptions: options.redaction }
      )
    ),
    Layer.provide(ShopContext.layerShopify(options.shops, { sandbox: options.sandbox ?? false }))
  )
}
