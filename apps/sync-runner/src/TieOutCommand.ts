/**
 * `kura-sync tie-out`: ties each configured Shopify shop's warehouse data to Shopify's own
 * Analytics (ShopifyQL, `FROM sales`), day by day, and says why a day differs.
 */
import { isCalendarDate, localDate, addDays as shiftDate } from "@kura/core"
import { reportContext, type SalesDay, type ShopifyError, salesByDay } from "@kura/shopify-client"
import { Warehouse, WarehouseConfig, type WarehouseError } from "@kura/warehouse"
import { Clock, Console, Effect, Option, Schema, type Scope } from "effect"
import { Command, Flag } from "effect/cli"
import { errorExitCode, errorReported } from "effect/Runtime"
import type { AppConfig, ShopifyShopConfig } from "./AppConfig.js"
import { ConfigError } from "./ConfigError.js"
import { logFormatFor } from "./ServiceLogger.js"
import { shopifyShopClientLayer } from "./ShopifyShopClient.js"
import { formatTieOut, logTieOut, type TieOutReport, tieOut } from "./TieOut.js"

/** A tie-out found a differing day, or could not run (already printed); exit code 1. */
export class TieOutFailed extends Schema.TaggedError<TieOutFailed>()("TieOutFailed", {
  message: Schema.String
}) {
  override readonly [errorExitCode] = 1
  // Already printed with its fix: the runtime must not log it again (on stdout, inside --json).
  override readonly [errorReported] = false
}

/** What the command needs from the CLI module. */
export interface TieOutCommandDeps {
  readonly configFlag: Flag.Flag<Option.Option<string>>
  readonly loadConfig: (
    configPath: Option.Option<string>
  ) => Effect.Effect<AppConfig, ConfigError, Scope.Scope>
}

/** The days compared when `--since` is not given: the 30 days before `--until`. */
export const DEFAULT_DAYS = 30

const dateFlag = (name: string, description: string) =>
  Flag.String(name).pipe(Flag.withDescription(description), Flag.optional)

/** The fix to print for a Shopify failure of the tie-out. */
const shopifyFix = (e: ShopifyError): string => {
  switch (e.reason._tag) {
    case "AccessDenied":
      return "grant the app the read_reports scope (Shopify also requires level-2 protected customer data for ShopifyQL)"
    case "ShopifyqlParseErrors":
      return "the shop's API version may predate shopifyqlQuery (2025-10): set SHOPIFY_API_VERSION to 2026-01 or later"
    default:
      return "check the shop's credentials with kura-sync check"
  }
}

/**
 * One shop's tie-out: Shopify's days, the warehouse's, and what the warehouse knows of its syncs.
 * `syncedAt` overrides when the last orders sync began (the demo syncs without the run ledger).
 */
export const tieOutShop = (
  shop: ShopifyShopConfig,
  range: {
    readonly since: Option.Option<string>
    readonly until: Option.Option<string>
    readonly syncedAt?: number
  }
): Effect.Effect<TieOutReport, ShopifyError | WarehouseError | ConfigError, Warehouse> =>
  Effect.gen(function* () {
    const warehouse = yield* Warehouse
    const fromShopify = Effect.gen(function* () {
      const context = yield* reportContext
      const today = localDate(yield* Clock.currentTimeMillis, context.zone)
      const until = Option.getOrElse(range.until, () => shiftDate(today, -1))
      const since = Option.getOrElse(range.since, () => shiftDate(until, -(DEFAULT_DAYS - 1)))
      if (since > until)
        return yield* new ConfigError({
          problems: [
            {
              field: Option.isSome(range.since) ? "--since" : "--until",
              message: `the range ${since} .. ${until} is empty (in ${context.zone}, yesterday is ${shiftDate(today, -1)})`,
              fix: "give --since on or before --until (both default to the 30 days up to yesterday)"
            }
          ]
        })
      const days: ReadonlyArray<SalesDay> = yield* salesByDay({ since, until })
      return { context, since, until, days }
    }).pipe(Effect.provide(shopifyShopClientLayer(shop)))
    const shopify = yield* fromShopify
    const { zone, currency } = shopify.context
    const key = { source: "shopify", account: shop.shop, stream: "orders" } as const
    const ours = yield* warehouse.shopifySalesByDay({
      account: shop.shop,
      zone,
      since: shopify.since,
      until: shopify.until
    })
    const lastGood =
      range.syncedAt ??
      (yield* warehouse.listRuns(key))
        .filter((r) => r.status === "complete")
        .reduce<number | null>((at, r) => (at === null || r.startedAt > at ? r.startedAt : at), null)
    const letters = yield* warehouse.listDeadLetters({ key })
    return tieOut(shopify.days, ours, {
      account: shop.shop,
      zone,
      currency,
      since: shopify.since,
      until: shopify.until,
      syncedDay: lastGood === null ? null : localDate(lastGood, zone),
      orderDeadLetters: letters.length
    })
  })

/** Builds the `tie-out` command. */
export const makeTieOutCommand = (deps: TieOutCommandDeps) =>
  Command.make(
    "tie-out",
    {
      config: deps.configFlag,
      since: dateFlag(
        "since",
        `First day to compare, YYYY-MM-DD in the shop's time zone (default: ${DEFAULT_DAYS} days before --until)`
      ),
      until: dateFlag(
        "until",
        "Last day to compare, YYYY-MM-DD in the shop's time zone (default: yesterday)"
      ),
      shop: Flag.String("shop").pipe(
        Flag.withDescription("Only this shop (its myshopify.com domain); default every configured shop"),
        Flag.optional
      ),
      json: Flag.Boolean("json").pipe(Flag.withDescription("Print JSON"), Flag.withDefault(false))
    },
    (flags) =>
      Effect.gen(function* () {
        const problems = (["since", "until"] as const).flatMap((field) => {
          const v = flags[field]
          return Option.isSome(v) && !isCalendarDate(v.value)
            ? [
                {
                  field: `--${field}`,
                  message: `"${v.value}" is not a date`,
                  fix: "use YYYY-MM-DD, e.g. 2026-10-01"
                }
              ]
            : []
        })
        if (
          problems.length === 0 &&
          Option.isSome(flags.since) &&
          Option.isSome(flags.until) &&
          flags.since.value > flags.until.value
        )
          problems.push({
            field: "--since",
            message: `${flags.since.value} is after --until ${flags.until.value}`,
            fix: "swap them"
          })
        if (problems.length > 0) {
          const error = new ConfigError({ problems })
          yield* Console.error(error.message)
          return yield* error
        }
        const config = yield* deps.loadConfig(flags.config)
        const shops = config.shopify.filter(
          (s) => Option.isNone(flags.shop) || s.shop === flags.shop.value.trim().toLowerCase()
        )
        if (shops.length === 0) {
          const error = new ConfigError({
            problems: [
              {
                field: Option.isSome(flags.shop) ? "--shop" : "SHOPIFY_SHOP",
                message: Option.isSome(flags.shop)
                  ? `${flags.shop.value} is not a configured shop`
                  : "no Shopify shop is configured",
                fix: Option.isSome(flags.shop)
                  ? `use one of: ${config.shopify.map((s) => s.shop).join(", ") || "(none)"}`
                  : "set SHOPIFY_SHOP and its credentials (or the config file's shopify list)"
              }
            ]
          })
          yield* Console.error(error.message)
          return yield* error
        }
        const reports = yield* Effect.forEach(shops, (shop) =>
          tieOutShop(shop, flags).pipe(
            Effect.catchTag("ShopifyError", (e) =>
              Console.error(`shopify ${shop.shop}: ${e.message}\n  fix: ${shopifyFix(e)}`).pipe(
                Effect.andThen(Effect.fail(new TieOutFailed({ message: e.message })))
              )
            ),
            Effect.tapError((e) => (e._tag === "ConfigError" ? Console.error(e.message) : Effect.void))
          )
        ).pipe(
          // A tie-out only reads: lake retention is left to run and serve.
          Effect.provide(WarehouseConfig.layerFromSettings(config.warehouseSettings, { retention: false })),
          Effect.catchTag("WarehouseError", (e) =>
            Console.error(
              /lock/i.test(e.message)
                ? `the warehouse ${config.warehouse} is held by a running kura-sync (DuckDB allows one process); stop it, or tie out against BigQuery`
                : `cannot read the warehouse: ${e.message}`
            ).pipe(Effect.andThen(Effect.fail(new TieOutFailed({ message: e.message }))))
          )
        )
        yield* Console.log(
          flags.json ? JSON.stringify(reports, null, 2) : reports.map(formatTieOut).join("\n\n")
        )
        // Cloud Logging lines for the alert (on Cloud Run, or KURA_LOG_FORMAT=json): one per shop.
        if ((yield* logFormatFor(process.env, "command")) === "json")
          yield* Effect.forEach(reports, logTieOut)
        const differing = reports.filter((r) => !r.tied)
        if (differing.length > 0)
          return yield* new TieOutFailed({
            message: `${differing.map((r) => `${r.account}: ${r.differingDays} day(s)`).join(", ")} differ from Shopify's report`
          })
      })
  ).pipe(
    Command.withDescription(
      "Ties each Shopify shop's warehouse data to Shopify's own Analytics (ShopifyQL FROM sales: orders and total_sales per day in the shop's time zone) and prints every day with the causes Kura can see for a difference (a sync not yet run, dead-lettered orders, the cancellation convention). Needs the read_reports scope. Exits 0 when every day ties (days after the last orders sync may still differ), 1 when a day differs, 2 on a configuration error; --json for scripts"
    )
  )
