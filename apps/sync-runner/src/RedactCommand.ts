/**
 * `kura-sync redact customer | shop | reinstate | list | reapply`: erasure requests (GDPR/CCPA, Shopify's
 * compliance topics) carried out by hand, and the `_kura_redactions` ledger. See docs/privacy.md.
 */
import {
  makeRedaction,
  ObjectStore,
  Redaction,
  type RedactionEntry,
  type RedactionError,
  type RedactionOutcome,
  Warehouse,
  type WarehouseError
} from "@kura/warehouse"
import { Console, Effect, Layer, Logger, Option, Schema, type Scope } from "effect"
import { Command, Flag } from "effect/cli"
import { errorExitCode, errorReported } from "effect/Runtime"
import type { AppConfig } from "./AppConfig.js"
import { layerAppState } from "./AppState.js"
import type { ConfigError } from "./ConfigError.js"
import { redactionOptionsFor } from "./RedactionOptions.js"

/** A redact command failed (already printed); exit code 1. */
export class RedactFailed extends Schema.TaggedError<RedactFailed>()("RedactFailed", {
  message: Schema.String
}) {
  override readonly [errorExitCode] = 1
  // Already printed: false tells the runtime not to log it a second time.
  override readonly [errorReported] = false
}

/** What the command needs from the CLI module (config loading and DuckDB bounds stay there). */
export interface RedactCommandDeps {
  readonly configFlag: Flag.Flag<Option.Option<string>>
  readonly loadConfig: (
    configPath: Option.Option<string>
  ) => Effect.Effect<AppConfig, ConfigError, Scope.Scope>
  readonly boundDuckDb: (
    warehouse: Warehouse["Service"],
    env: Readonly<Record<string, string | undefined>>
  ) => Effect.Effect<unknown, ConfigError | WarehouseError>
}

const sourceFlag = Flag.Literals("source", ["shopify", "lightspeed", "stocky"]).pipe(
  Flag.withDescription("The source the customer or account belongs to"),
  Flag.withDefault("shopify" as const)
)
const accountFlag = Flag.String("account").pipe(
  Flag.withDescription("The account: the shop domain (x.myshopify.com), POS account or Stocky store")
)

const iso = (at: number | null) => (at === null ? "-" : new Date(at).toISOString().replace(/\.\d{3}Z$/, "Z"))

/** One line per table and the files, for a finished redaction. */
export const formatOutcome = (o: RedactionOutcome): string => {
  const tables = Object.entries(o.tables)
    .map(([t, n]) => `${t} ${n}`)
    .join(", ")
  return [
    `${o.id}: ${o.status}; ${o.rowsChanged} row(s)${tables === "" ? "" : ` (${tables})`}, ${o.filesChanged} lake file(s)`,
    ...o.files.map((f) => `  ${f}`)
  ].join("\n")
}

/** The ledger as a table. */
export const formatLedger = (entries: ReadonlyArray<RedactionEntry>): string =>
  entries.length === 0
    ? "no redaction requests"
    : [
        "requested             kind          status    trigger  rows  files  last applied          subject",
        ...entries.map(
          (e) =>
            `${iso(e.requestedAt).padEnd(21)} ${e.kind.padEnd(13)} ${e.status.padEnd(9)} ${e.trigger.padEnd(8)} ${String(e.rowsChanged).padStart(4)}  ${String(e.filesChanged).padStart(5)}  ${iso(e.appliedAt).padEnd(21)} ${e.source}/${e.sourceAccount}${e.customerId === null ? "" : ` customer ${e.customerId}`}${e.emailSha256 === null ? "" : ` email-sha256 ${e.emailSha256.slice(0, 12)}…`}${e.detail === null ? "" : ` (${e.detail})`}`
        )
      ].join("\n")

/** Builds the `redact` command group. */
export const makeRedactCommand = (deps: RedactCommandDeps) => {
  const withRedaction = <A>(
    configPath: Option.Option<string>,
    use: (redaction: Redaction["Service"]) => Effect.Effect<A, RedactionError | RedactFailed>
  ) =>
    Effect.gen(function* () {
      const config = yield* deps.loadConfig(configPath)
      return yield* Effect.gen(function* () {
        const warehouse = yield* Warehouse
        yield* deps.boundDuckDb(warehouse, process.env)
        yield* warehouse.migrate
        return yield* use(yield* Redaction)
      }).pipe(
        Effect.provide(
          Layer.effect(
            Redaction,
            Effect.gen(function* () {
              // The file token store, when configured, is cleared of an erased shop's tokens too.
              return makeRedaction(yield* Warehouse, yield* ObjectStore, redactionOptionsFor(config))
            })
          ).pipe(Layer.provideMerge(layerAppState(config)))
        ),
        Effect.catchTag("WarehouseError", (e) =>
          Console.error(
            /lock/i.test(e.message)
              ? `the warehouse ${config.warehouse} is held by a running kura-sync (DuckDB allows one process); stop it first`
              : `cannot open the warehouse: ${e.message}`
          ).pipe(Effect.andThen(Effect.fail(new RedactFailed({ message: e.message }))))
        ),
        Effect.catchTag("RedactionError", (e) =>
          Console.error(`redaction failed (${e.reason}): ${e.message}`).pipe(
            Effect.andThen(Effect.fail(new RedactFailed({ message: e.message })))
          )
        )
      )
    })

  const customer = Command.make(
    "customer",
    {
      config: deps.configFlag,
      source: sourceFlag,
      account: accountFlag,
      id: Flag.String("id").pipe(
        Flag.withDescription(
          "The customer's id in the source (Shopify: numeric id or gid://shopify/Customer/…)"
        ),
        Flag.optional
      ),
      email: Flag.String("email").pipe(
        Flag.withDescription(
          "The customer's e-mail, for sources that know only that; also matches stored e-mail values (only its SHA-256 is kept)"
        ),
        Flag.optional
      ),
      order: Flag.String("order").pipe(
        Flag.withDescription("An order id to redact as well (repeatable; Shopify's orders_to_redact)"),
        Flag.atLeast(0)
      )
    },
    (flags) =>
      withRedaction(flags.config, (r) =>
        Effect.gen(function* () {
          const id = Option.getOrUndefined(flags.id)
          const email = Option.getOrUndefined(flags.email)
          const out = yield* r.redactCustomer({
            source: flags.source,
            sourceAccount: flags.account,
            ...(id === undefined ? {} : { customerId: id }),
            ...(email === undefined ? {} : { email }),
            orderIds: flags.order,
            trigger: "cli"
          })
          yield* Console.log(formatOutcome(out))
        })
      )
  ).pipe(
    Command.withDescription(
      "Erase one customer's personal data from the warehouse, _kura_raw, dead letters and the lake (idempotent)"
    )
  )

  const shop = Command.make(
    "shop",
    {
      config: deps.configFlag,
      source: sourceFlag,
      account: accountFlag,
      yes: Flag.Boolean("yes").pipe(
        Flag.withDescription("Confirm: every row and lake file of the account is deleted, for good"),
        Flag.withDefault(false)
      )
    },
    (flags) =>
      withRedaction(flags.config, (r) =>
        Effect.gen(function* () {
          if (!flags.yes) {
            const message = `this deletes every row and lake file of ${flags.source} account ${flags.account} for good: add --yes to confirm`
            yield* Console.error(message)
            return yield* new RedactFailed({ message })
          }
          const out = yield* r.redactShop({
            source: flags.source,
            sourceAccount: flags.account,
            confirm: true,
            trigger: "cli"
          })
          yield* Console.log(formatOutcome({ ...out, files: [] }))
          yield* Console.log(
            `kura-sync no longer syncs ${flags.source} account ${flags.account} or lands its webhooks; remove it from the config (its streams are refused until then). If the merchant reinstalls the app: kura-sync redact reinstate --source ${flags.source} --account ${flags.account} --yes`
          )
        })
      )
  ).pipe(Command.withDescription("Delete all data of one account (Shopify shop/redact); needs --yes"))

  const reinstate = Command.make(
    "reinstate",
    {
      config: deps.configFlag,
      source: sourceFlag,
      account: accountFlag,
      yes: Flag.Boolean("yes").pipe(
        Flag.withDescription(
          "Confirm: the merchant reinstalled the app, the next sync collects the account again"
        ),
        Flag.withDefault(false)
      )
    },
    (flags) =>
      withRedaction(flags.config, (r) =>
        Effect.gen(function* () {
          if (!flags.yes) {
            const message = `this lets kura-sync sync ${flags.source} account ${flags.account} again after its erasure: only once the merchant has reinstalled the app; add --yes to confirm`
            yield* Console.error(message)
            return yield* new RedactFailed({ message })
          }
          const entry = yield* r.reinstateShop({
            source: flags.source,
            sourceAccount: flags.account,
            confirm: true,
            trigger: "cli"
          })
          yield* Console.log(
            `${entry.id}: reinstated; the ledger keeps the erasure (${entry.detail ?? ""}). The next sync loads the account from the start.`
          )
        })
      )
  ).pipe(
    Command.withDescription(
      "Lift an account's erasure once the merchant reinstalled the app, so it is synced again (the ledger row stays); needs --yes"
    )
  )

  const list = Command.make(
    "list",
    {
      config: deps.configFlag,
      json: Flag.Boolean("json").pipe(
        Flag.withDescription("Print the ledger as JSON"),
        Flag.withDefault(false)
      )
    },
    (flags) =>
      withRedaction(flags.config, (r) =>
        Effect.gen(function* () {
          const entries = yield* r.list
          yield* Console.log(flags.json ? JSON.stringify(entries, null, 2) : formatLedger(entries))
        })
      )
  ).pipe(Command.withDescription("Print the _kura_redactions ledger"))

  const reapply = Command.make(
    "reapply",
    {
      config: deps.configFlag,
      account: Flag.String("account").pipe(Flag.withDescription("Only this account"), Flag.optional)
    },
    (flags) =>
      withRedaction(flags.config, (r) =>
        Effect.gen(function* () {
          const account = Option.getOrUndefined(flags.account)
          const outs = yield* r.reapply(account === undefined ? {} : { sourceAccount: account })
          for (const o of outs) yield* Console.log(formatOutcome(o))
          if (outs.length === 0) yield* Console.log("no customer redactions to re-apply")
        })
      )
  ).pipe(
    Command.withDescription(
      "Redact again what syncs loaded since each customer redaction (run after passes that re-read history)"
    )
  )

  return Command.make("redact").pipe(
    Command.withDescription(
      "Erase personal data (GDPR/CCPA, Shopify compliance webhooks) and list the ledger"
    ),
    Command.withSubcommands([
      Command.provideSync(customer, Logger.LogToStderr, true),
      Command.provideSync(shop, Logger.LogToStderr, true),
      Command.provideSync(reinstate, Logger.LogToStderr, true),
      Command.provideSync(list, Logger.LogToStderr, true),
      Command.provideSync(reapply, Logger.LogToStderr, true)
    ])
  )
}
