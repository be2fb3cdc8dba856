/**
 * `kura-sync check`: the preflight a data team runs before deploying. It takes the configuration
 * `run` and `serve` validate, then asks each store and API whether it will work, one row per
 * check (ok / warn / FAIL / skipped, with the fix), like Airbyte's "test connection" or `dbt debug`.
 * Checks run concurrently, each under its own timeout, so one unreachable API does not hide the
 * others. Nothing is migrated; the only writes are a probe object in the lake (`_kura_check/`) and,
 * when Lightspeed must refresh, its rotated token through the run's own token store.
 */
import { maskValues, redact } from "@kura/core"
import { Cause, Effect, Option, Redacted } from "effect"
import type { AppConfig } from "./AppConfig.js"
import { checkClockSkew, checkLightspeed, checkShopify, checkStocky } from "./CheckSources.js"
import { checkLake, checkWarehouse, type WarehouseFinding } from "./CheckStores.js"

/** A check's outcome: FAIL makes `check` exit 1; warn and skipped do not. */
export type CheckStatus = "ok" | "warn" | "FAIL" | "skipped"

/** One line of the report. */
export interface CheckRow {
  /** What was checked, e.g. `shopify kura.myshopify.com: scopes`. */
  readonly name: string
  readonly status: CheckStatus
  /** What was found (never a secret). */
  readonly detail: string
  /** What to do about it; empty when nothing. */
  readonly fix: string
}

/** Builds a row. */
export const checkRow = (name: string, status: CheckStatus, detail: string, fix = ""): CheckRow => ({
  name,
  status,
  detail,
  fix
})

/** Options of `runChecks`. */
export interface CheckOptions {
  /** Longest wait for each check (ms). */
  readonly timeoutMs: number
}

/** Default per-check timeout: a healthy API answers a handful of small requests well within it. */
export const DEFAULT_CHECK_TIMEOUT_MS = 20_000

/** The message of an error or cause, one line. */
export const messageOf = (e: unknown): string =>
  (typeof e === "object" && e !== null && "message" in e && typeof e.message === "string"
    ? e.message
    : String(e)
  )
    .replace(/\s+/g, " ")
    .trim()

/**
 * Runs `effect` (the rows of one check) under the timeout: past it, the check is interrupted and
 * reported as a FAIL naming the wait, and any failure becomes a FAIL row instead of stopping the
 * other checks.
 */
export const bounded = (
  name: string,
  timeoutMs: number,
  fix: string,
  effect: Effect.Effect<ReadonlyArray<CheckRow>, unknown>
): Effect.Effect<ReadonlyArray<CheckRow>> =>
  effect.pipe(
    Effect.timeoutOrElse({
      duration: timeoutMs,
      orElse: () =>
        Effect.succeed([checkRow(name, "FAIL", `no answer within ${Math.round(timeoutMs / 100) / 10}s`, fix)])
    }),
    Effect.catchCause((cause) =>
      Effect.succeed([checkRow(name, "FAIL", messageOf(Cause.squash(cause)), fix)])
    )
  )

/** Every secret of `config`, masked in the report on top of `redact`'s registered values. */
const secretsOf = (config: AppConfig): ReadonlyArray<string> =>
  [
    ...config.shopify.flatMap((s) => [
      s.auth._tag === "AccessToken" ? s.auth.accessToken : s.auth.clientSecret,
      ...Option.toArray(s.webhookSecret)
    ]),
    ...config.lightspeed.flatMap((a) => [a.clientSecret, a.refreshToken]),
    ...config.stocky.map((s) => s.apiKey),
    ...Option.toArray(config.triggerSecret),
    ...Option.toArray(config.tokenEncryptionKey)
  ]
    .map((r) => Redacted.value(r))
    .filter((v) => v.length > 0)

/** Masks every configured secret (and anything secret-shaped) in a row. */
const scrub = (config: AppConfig) => {
  const secrets = secretsOf(config)
  const clean = (text: string) => redact(maskValues(text, secrets))
  return (r: CheckRow): CheckRow => ({
    ...r,
    name: clean(r.name),
    detail: clean(r.detail),
    fix: clean(r.fix)
  })
}

/**
 * Runs every check of `config`: the warehouse first (alone: DuckDB allows one open file
 * configuration per process, and the Lightspeed check may need it read-write afterwards), then the
 * lake, the sources and the clocks concurrently. Sources that are not configured are `skipped`.
 */
export const runChecks = Effect.fn("Check.run")(function* (config: AppConfig, options: CheckOptions) {
  const warehouse: { rows: ReadonlyArray<CheckRow>; finding: WarehouseFinding } = yield* checkWarehouse(
    config,
    options
  )
  const rest = yield* Effect.all(
    [
      checkLake(config, options),
      ...config.shopify.map((shop) => checkShopify(shop, options)),
      ...config.lightspeed.map((account) => checkLightspeed(account, config, warehouse.finding, options)),
      ...config.stocky.map((store) => checkStocky(store, config, options)),
      checkClockSkew(config, options)
    ],
    { concurrency: "unbounded" }
  )
  const skipped = config.skipped
    .filter((s) => s.source !== "demo")
    .map((s) => checkRow(s.source, "skipped", `not configured (${s.reason})`))
  return [...warehouse.rows, ...rest.flat(), serveRow(config), ...skipped].map(scrub(config))
})

/**
 * Whether `kura-sync serve` would start: it refuses without a way to authenticate `POST /sync`
 * (a warn here, since `run` as a scheduled job needs none).
 */
export const serveRow = (config: AppConfig): CheckRow => {
  const oidc = Option.isSome(config.oidcAudience)
  const secret = Option.isSome(config.triggerSecret)
  return oidc || secret
    ? checkRow(
        "serve",
        "ok",
        `POST /sync accepts ${[
          ...(oidc ? [`Google OIDC tokens of ${config.oidcServiceAccounts.join(", ")}`] : []),
          ...(secret ? ["the shared trigger secret"] : [])
        ].join(" and ")}`
      )
    : checkRow(
        "serve",
        "warn",
        "kura-sync serve would refuse to start: nothing authenticates POST /sync (kura-sync run as a job needs nothing)",
        "set KURA_OIDC_AUDIENCE (the service URL) with KURA_OIDC_SERVICE_ACCOUNTS for Cloud Scheduler, and/or KURA_TRIGGER_SECRET"
      )
}

/** 1 when any check FAILed, else 0 (warnings pass, as `dbt debug` treats them). */
export const checkExitCode = (rows: ReadonlyArray<CheckRow>): 0 | 1 =>
  rows.some((r) => r.status === "FAIL") ? 1 : 0

/** The report as an aligned text table, then a summary line. */
export const formatCheckTable = (rows: ReadonlyArray<CheckRow>): string => {
  const nameWidth = Math.max(5, ...rows.map((r) => r.name.length))
  const lines = [`${"CHECK".padEnd(nameWidth)}  STATUS   DETAIL`]
  for (const r of rows) {
    lines.push(`${r.name.padEnd(nameWidth)}  ${r.status.padEnd(7)}  ${r.detail}`)
    if (r.fix !== "") lines.push(`${"".padEnd(nameWidth)}  ${"".padEnd(7)}  fix: ${r.fix}`)
  }
  const count = (s: CheckStatus) => rows.filter((r) => r.status === s).length
  lines.push(
    "",
    `${count("ok")} ok, ${count("warn")} warn, ${count("FAIL")} FAIL, ${count("skipped")} skipped: ${
      count("FAIL") > 0 ? "NOT ready to deploy" : "ready to deploy"
    }`
  )
  return lines.join("\n")
}

/** The machine-readable report (`--json`): `ok` is false when any check FAILed. */
export const checkReportJson = (rows: ReadonlyArray<CheckRow>, checkedAt: number) => ({
  ok: checkExitCode(rows) === 0,
  checkedAt: new Date(checkedAt).toISOString(),
  counts: {
    ok: rows.filter((r) => r.status === "ok").length,
    warn: rows.filter((r) => r.status === "warn").length,
    fail: rows.filter((r) => r.status === "FAIL").length,
    skipped: rows.filter((r) => r.status === "skipped").length
  },
  checks: rows
})
