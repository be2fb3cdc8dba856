/**
 * The backfill's settings from the command line and the environment, validated all at once: a
 * bad setup gets one message listing every problem (exit code 2), never the first one only.
 */
import { DEFAULT_API_VERSION } from "@kura/shopify-client"
import { DuckDbWarehouse, localStoreProblems } from "@kura/warehouse"
import { Redacted, Schema } from "effect"
import { errorExitCode, errorReported } from "effect/Runtime"
import { type BackfillSource, DEFAULT_STREAMS, parseInstant, parseWindowLength, STREAMS } from "./Plan.js"

/** One thing wrong with the configuration, naming the setting and the fix. */
export interface ConfigProblem {
  readonly field: string
  readonly message: string
  readonly fix: string
}

/** Invalid configuration; exit code 2. */
export class BackfillConfigError extends Schema.TaggedError<BackfillConfigError>()("BackfillConfigError", {
  problems: Schema.Array(Schema.Struct({ field: Schema.String, message: Schema.String, fix: Schema.String }))
}) {
  override readonly [errorExitCode] = 2
  override readonly [errorReported] = false
  override get message(): string {
    return [
      `kura-backfill: invalid configuration (${this.problems.length} problem(s)):`,
      ...this.problems.map((p) => `  - ${p.field}: ${p.message}; ${p.fix}`)
    ].join("\n")
  }
}

/** Shopify credentials for a static token. */
export interface ShopifySettings {
  readonly shop: string
  readonly accessToken: Redacted.Redacted<string>
  readonly apiVersion: string
  readonly baseUrl: string | undefined
}

/** Lightspeed K-Series credentials and settings. */
export interface LightspeedSettings {
  /** Account name (checkpoints, raw rows, token key), `LIGHTSPEED_ACCOUNT`, default "default". */
  readonly account: string
  readonly clientId: string
  readonly clientSecret: Redacted.Redacted<string>
  /** Seeds an empty token store only; afterwards the stored (rotated) token is used. */
  readonly refreshToken: Redacted.Redacted<string> | undefined
  readonly environment: "production" | "trial" | undefined
  readonly authVersion: "v1" | "v2" | undefined
  readonly apiBaseUrl: string | undefined
  readonly tokenUrl: string | undefined
  /** Business locations to load (empty: every location the token sees). */
  readonly businessLocations: ReadonlyArray<string>
  /** Local start of the business day ("HH:MM"); read from the API when unset. */
  readonly dayStartsAt: string | undefined
  /** Plain http and quick retries (the local sandbox). */
  readonly insecure: boolean
}

/** Stocky settings: an archive, the live API, or both configured. */
export interface StockySettings {
  readonly storeName: string
  readonly apiKey: Redacted.Redacted<string>
  readonly baseUrl: string | undefined
  /** IANA zone of Stocky's offset-less timestamps. */
  readonly timeZone: string
  /** Whether the zone was set explicitly (it then wins over an archive manifest's zone). */
  readonly timeZoneExplicit: boolean
  /** A directory or gs:// URL of an archive; when set it is read instead of the live API. */
  readonly archive: string | undefined
  /**
   * With an archive: also read the live API (while it answers) and merge by record id, the API's
   * record winning where both have one (`STOCKY_ARCHIVE_WITH_API=1`). Default false: archive only.
   */
  readonly archiveWithApi: boolean
  readonly insecure: boolean
}

/** Everything a backfill run needs. */
export interface BackfillConfig {
  readonly source: BackfillSource
  readonly streams: ReadonlyArray<string>
  readonly from: number
  /** Explicit end, or null for "now" (resolved once and stored with the plan). */
  readonly to: number | null
  readonly windowMillis: number
  readonly concurrency: number
  readonly dryRun: boolean
  readonly restart: boolean
  readonly task: { readonly index: number; readonly count: number }
  readonly warehouse: string
  readonly lake: string
  readonly shopify: ShopifySettings | undefined
  readonly lightspeed: LightspeedSettings | undefined
  readonly stocky: StockySettings | undefined
  /**
   * Where Lightspeed's single-use refresh tokens rotate: `warehouse` (`_kura_tokens`, shared by
   * every task of a job) or `file:<path>`.
   */
  readonly tokenStore: string
  /** Seals token sets in `_kura_tokens` (AES-256-GCM), from `KURA_TOKEN_ENCRYPTION_KEY`. */
  readonly tokenEncryptionKey: Redacted.Redacted<string> | undefined
  /** Bulk settings, mostly for tests and slow shops. */
  readonly bulkPollMillis: number
  readonly bulkBusyRetryMillis: number
  /**
   * Shopify orders on DuckDB load through the SQL fast path (raw bulk file → DuckDB); false keeps
   * the JS path (parse, map, MERGE per chunk). `KURA_SHOPIFY_FAST_PATH=0` turns it off.
   */
  readonly shopifyFastPath: boolean
  /** Orders per DuckDB load on the fast path (`KURA_ORDERS_PER_LOAD`, default 20,000). */
  readonly ordersPerLoad: number
  /** A DuckDB CHECKPOINT after a window's loads on the fast path (`KURA_DUCKDB_WINDOW_CHECKPOINT`, default on). */
  readonly windowCheckpoint: boolean
  /**
   * Orders appended since the last checkpoint before a window's loads end in one
   * (`KURA_DUCKDB_CHECKPOINT_ORDERS`, default 1,000; 1: after every window, as before).
   */
  readonly checkpointEveryOrders: number
  /**
   * Connections to a DuckDB warehouse (`KURA_DUCKDB_CONNECTIONS`, 1–8); absent: the warehouse's
   * default. More than one lets loads of different tables run at once.
   */
  readonly duckDbConnections?: number
}

/** The raw command line. */
export interface BackfillArgs {
  readonly source: string
  readonly streams: ReadonlyArray<string>
  readonly from: string | undefined
  readonly to: string | undefined
  readonly window: string | undefined
  readonly concurrency: number | undefined
  readonly dryRun: boolean
  readonly resume: boolean
  readonly restart: boolean
  /** Stocky archive (directory or gs:// URL); overrides `STOCKY_ARCHIVE`. */
  readonly archive?: string | undefined
}

const SOURCES: ReadonlyArray<BackfillSource> = ["shopify", "lightspeed", "stocky"]

const isSource = (s: string): s is BackfillSource => (SOURCES as ReadonlyArray<string>).includes(s)

/**
 * Validates the command line and environment. `now` is the instant `--to now` means. Returns
 * the config or every problem found.
 */
export const parseBackfillConfig = (
  args: BackfillArgs,
  env: Readonly<Record<string, string | undefined>>,
  now: number
): BackfillConfig | BackfillConfigError => {
  const problems: Array<ConfigProblem> = []
  const problem = (field: string, message: string, fix: string) => problems.push({ field, message, fix })
  const get = (name: string) => {
    const v = env[name]
    return v === undefined || v.trim() === "" ? undefined : v.trim()
  }

  const source = args.source.trim().toLowerCase()
  if (!isSource(source))
    problem("<source>", `unknown source ${JSON.stringify(args.source)}`, `use one of ${SOURCES.join(", ")}`)
  const known = isSource(source) ? STREAMS[source] : {}
  const streams = args.streams.length > 0 ? args.streams : isSource(source) ? DEFAULT_STREAMS[source] : []
  for (const s of streams) {
    if (isSource(source) && known[s] === undefined)
      problem(
        "[streams]",
        `unknown ${source} stream ${JSON.stringify(s)}`,
        `use ${Object.keys(known).join(", ")}`
      )
  }

  let from = Number.NaN
  if (args.from === undefined)
    problem(
      "--from",
      "missing",
      "give the first date to load, e.g. --from 2019-01-01 (there is no silent default)"
    )
  else {
    const f = parseInstant(args.from, now)
    if (f === undefined)
      problem("--from", `${JSON.stringify(args.from)} is not a date`, "use YYYY-MM-DD or an ISO-8601 instant")
    else from = f
  }
  let to: number | null = null
  if (args.to !== undefined && args.to.trim() !== "now") {
    const t = parseInstant(args.to, now)
    if (t === undefined)
      problem(
        "--to",
        `${JSON.stringify(args.to)} is not a date`,
        "use now, YYYY-MM-DD or an ISO-8601 instant"
      )
    else to = t
  }
  const end = to ?? now
  if (Number.isFinite(from) && from >= end)
    problem(
      "--from",
      `${args.from} is not before --to (${new Date(end).toISOString()})`,
      "pick an earlier --from or a later --to"
    )
  if (Number.isFinite(from) && from > now) problem("--from", "is in the future", "pick a past date")

  const windowText = args.window ?? "30d"
  const windowMillis = parseWindowLength(windowText) ?? Number.NaN
  if (Number.isNaN(windowMillis))
    problem("--window", `${JSON.stringify(windowText)} is not a window length`, "use e.g. 30d, 12h, 2w")

  const concurrency = args.concurrency ?? (source === "shopify" ? 5 : 2)
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 32)
    problem(
      "--concurrency",
      `${concurrency} is out of range`,
      "use an integer from 1 to 32 (Shopify runs at most 5 bulk jobs at once)"
    )
  if (args.resume && args.restart)
    problem(
      "--resume/--restart",
      "both given",
      "pick one: --resume (the default) keeps finished windows, --restart discards them"
    )

  const taskIndexText = get("CLOUD_RUN_TASK_INDEX")
  const taskCountText = get("CLOUD_RUN_TASK_COUNT")
  const taskIndex = taskIndexText === undefined ? 0 : Number(taskIndexText)
  const taskCount = taskCountText === undefined ? 1 : Number(taskCountText)
  if (!Number.isInteger(taskCount) || taskCount < 1)
    problem(
      "CLOUD_RUN_TASK_COUNT",
      `${JSON.stringify(taskCountText)} is not a positive integer`,
      "leave it to Cloud Run or unset it"
    )
  else if (!Number.isInteger(taskIndex) || taskIndex < 0 || taskIndex >= taskCount)
    problem(
      "CLOUD_RUN_TASK_INDEX",
      `${JSON.stringify(taskIndexText)} is not in 0..${taskCount - 1}`,
      "leave it to Cloud Run or unset it"
    )

  const warehouse = get("KURA_WAREHOUSE") ?? "duckdb:data/kura.duckdb"
  if (!/^(duckdb:.+|bigquery:[^.]+\.[^.]+)$/.test(warehouse))
    problem(
      "KURA_WAREHOUSE",
      `${JSON.stringify(warehouse)} is not a warehouse`,
      "use duckdb:<path> or bigquery:<project>.<dataset>"
    )
  const lake = get("KURA_LAKE") ?? "file:data/lake"
  if (!/^(file:.+|gs:\/\/[^/]+.*)$/.test(lake))
    problem("KURA_LAKE", `${JSON.stringify(lake)} is not a lake`, "use file:<dir> or gs://<bucket>/<prefix>")
  if (warehouse.startsWith("bigquery:") && !lake.startsWith("gs://"))
    problem(
      "KURA_LAKE",
      "BigQuery needs a gs:// lake for load-job staging",
      "set KURA_LAKE=gs://<bucket>/<prefix>"
    )

  let shopify: ShopifySettings | undefined
  if (source === "shopify") {
    const shop = get("SHOPIFY_SHOP")
    const token = get("SHOPIFY_ACCESS_TOKEN")
    if (shop === undefined) problem("SHOPIFY_SHOP", "missing", "set it to <shop>.myshopify.com")
    else if (!/^[a-z0-9][a-z0-9-]*\.myshopify\.com$/.test(shop))
      problem("SHOPIFY_SHOP", `${JSON.stringify(shop)} is not a shop domain`, "use <shop>.myshopify.com")
    if (token === undefined)
      problem("SHOPIFY_ACCESS_TOKEN", "missing", "set the Admin API access token (shpat_…)")
    const apiVersion = get("SHOPIFY_API_VERSION") ?? DEFAULT_API_VERSION
    if (!/^\d{4}-(01|04|07|10)$/.test(apiVersion))
      problem(
        "SHOPIFY_API_VERSION",
        `${JSON.stringify(apiVersion)} is not an API version`,
        "use e.g. 2026-01"
      )
    const baseUrl = get("SHOPIFY_API_BASE_URL")
    if (baseUrl !== undefined && !/^https?:\/\/\S+$/.test(baseUrl))
      problem("SHOPIFY_API_BASE_URL", "is not a URL", "use http(s)://host[:port]")
    if (shop !== undefined && token !== undefined)
      shopify = { shop, accessToken: Redacted.make(token), apiVersion, baseUrl }
  }

  const insecure = (url: string | undefined) => url?.startsWith("http://") === true
  const urlProblem = (name: string) => {
    const v = get(name)
    if (v !== undefined && !/^https?:\/\/\S+$/.test(v))
      problem(name, "is not a URL", "use http(s)://host[:port][/path]")
    return v
  }
  let lightspeed: LightspeedSettings | undefined
  if (source === "lightspeed") {
    const clientId = get("LIGHTSPEED_CLIENT_ID")
    const clientSecret = get("LIGHTSPEED_CLIENT_SECRET")
    if (clientId === undefined)
      problem("LIGHTSPEED_CLIENT_ID", "missing", "set the K-Series API client id (devp-…)")
    if (clientSecret === undefined)
      problem(
        "LIGHTSPEED_CLIENT_SECRET",
        "missing",
        "set the API client secret (a secret, e.g. from Secret Manager)"
      )
    const environment = get("LIGHTSPEED_ENVIRONMENT")
    if (environment !== undefined && environment !== "production" && environment !== "trial")
      problem(
        "LIGHTSPEED_ENVIRONMENT",
        `${JSON.stringify(environment)} is not an environment`,
        "use production or trial"
      )
    const authVersion = get("LIGHTSPEED_AUTH_VERSION")
    if (authVersion !== undefined && authVersion !== "v1" && authVersion !== "v2")
      problem("LIGHTSPEED_AUTH_VERSION", `${JSON.stringify(authVersion)} is not a version`, "use v1 or v2")
    const dayStartsAt = get("LIGHTSPEED_DAY_STARTS_AT")
    if (dayStartsAt !== undefined && !/^([01]\d|2[0-3]):[0-5]\d$/.test(dayStartsAt))
      problem(
        "LIGHTSPEED_DAY_STARTS_AT",
        `${JSON.stringify(dayStartsAt)} is not HH:MM`,
        "use the local cutover, e.g. 05:00, or unset it to read it from the API"
      )
    const apiBaseUrl = urlProblem("LIGHTSPEED_API_BASE_URL")
    const tokenUrl = urlProblem("LIGHTSPEED_TOKEN_URL")
    const refreshToken = get("LIGHTSPEED_REFRESH_TOKEN")
    if (clientId !== undefined && clientSecret !== undefined)
      lightspeed = {
        account: get("LIGHTSPEED_ACCOUNT") ?? "default",
        clientId,
        clientSecret: Redacted.make(clientSecret),
        refreshToken: refreshToken === undefined ? undefined : Redacted.make(refreshToken),
        environment: environment === "production" || environment === "trial" ? environment : undefined,
        authVersion: authVersion === "v1" || authVersion === "v2" ? authVersion : undefined,
        apiBaseUrl,
        tokenUrl,
        businessLocations: (get("LIGHTSPEED_BUSINESS_LOCATIONS") ?? "")
          .split(",")
          .map((x) => x.trim())
          .filter((x) => x !== ""),
        dayStartsAt,
        insecure: insecure(apiBaseUrl)
      }
  }

  let stocky: StockySettings | undefined
  if (source === "stocky") {
    const storeName = get("STOCKY_STORE_NAME")
    const apiKey = get("STOCKY_API_KEY")
    const archiveText = args.archive?.trim() || get("STOCKY_ARCHIVE")
    if (storeName === undefined)
      problem("STOCKY_STORE_NAME", "missing", "set it to the shop's <shop>.myshopify.com")
    else if (!/^[a-z0-9][a-z0-9-]*\.myshopify\.com$/.test(storeName))
      problem(
        "STOCKY_STORE_NAME",
        `${JSON.stringify(storeName)} is not a shop domain`,
        "use <shop>.myshopify.com"
      )
    if (apiKey === undefined && archiveText === undefined)
      problem(
        "STOCKY_API_KEY",
        "missing, and no archive given",
        "set the Stocky API key (Preferences → API access), or pass --archive <dir|gs://bucket/prefix> (the API was retired on 2026-08-31)"
      )
    if (archiveText?.startsWith("gs://") && !/^gs:\/\/[a-z0-9][a-z0-9._-]{1,221}(\/.*)?$/.test(archiveText))
      problem("--archive", `${JSON.stringify(archiveText)} is not a gs:// URL`, "use gs://<bucket>/<prefix>")
    const baseUrl = urlProblem("STOCKY_API_BASE_URL")
    const zone = get("STOCKY_TIME_ZONE")
    const withApi = get("STOCKY_ARCHIVE_WITH_API") ?? "0"
    if (withApi !== "0" && withApi !== "1")
      problem(
        "STOCKY_ARCHIVE_WITH_API",
        `${JSON.stringify(withApi)} is not 0 or 1`,
        "unset it, or 1 to merge the live API over the archive"
      )
    if (withApi === "1" && (apiKey === undefined || archiveText === undefined))
      problem(
        "STOCKY_ARCHIVE_WITH_API",
        "needs both an archive and STOCKY_API_KEY",
        "pass --archive <dir|gs://…> and set STOCKY_API_KEY, or unset STOCKY_ARCHIVE_WITH_API"
      )
    if (storeName !== undefined)
      stocky = {
        storeName,
        apiKey: Redacted.make(apiKey ?? ""),
        baseUrl,
        timeZone: zone ?? "UTC",
        timeZoneExplicit: zone !== undefined,
        archive: archiveText,
        archiveWithApi: withApi === "1",
        insecure: insecure(baseUrl)
      }
  }
  if (source !== "stocky" && args.archive !== undefined)
    problem("--archive", "only Stocky backfills read an archive", "drop --archive, or backfill stocky")

  const tokenStore = get("KURA_TOKEN_STORE") ?? "warehouse"
  if (tokenStore !== "warehouse" && !/^file:.+$/.test(tokenStore))
    problem(
      "KURA_TOKEN_STORE",
      `${JSON.stringify(tokenStore)} is not a token store`,
      "use warehouse (the _kura_tokens table, shared by every task) or file:<path> (a file every task shares)"
    )
  const tokenKey = get("KURA_TOKEN_ENCRYPTION_KEY")

  const intOf = (name: string, fallback: number, unit: "milliseconds" | "orders") => {
    const v = get(name)
    if (v === undefined) return fallback
    const n = Number(v)
    if (!Number.isInteger(n) || n < 1) {
      problem(
        name,
        `${JSON.stringify(v)} is not a positive whole number of ${unit}`,
        `unset it or give ${unit}`
      )
      return fallback
    }
    return n
  }
  const bulkPollMillis = intOf("KURA_BULK_POLL_MS", 1000, "milliseconds")
  const bulkBusyRetryMillis = intOf("KURA_BULK_BUSY_RETRY_MS", 5000, "milliseconds")
  const ordersPerLoad = intOf("KURA_ORDERS_PER_LOAD", 20_000, "orders")
  const fastPath = get("KURA_SHOPIFY_FAST_PATH") ?? "1"
  if (fastPath !== "0" && fastPath !== "1")
    problem(
      "KURA_SHOPIFY_FAST_PATH",
      `${JSON.stringify(fastPath)} is not 0 or 1`,
      "unset it, or 0 for the JS path"
    )

  const windowCheckpoint = get("KURA_DUCKDB_WINDOW_CHECKPOINT") ?? "1"
  if (windowCheckpoint !== "0" && windowCheckpoint !== "1")
    problem(
      "KURA_DUCKDB_WINDOW_CHECKPOINT",
      `${JSON.stringify(windowCheckpoint)} is not 0 or 1`,
      "unset it, or 0 to leave checkpoints to DuckDB"
    )

  const checkpointEveryOrders = intOf("KURA_DUCKDB_CHECKPOINT_ORDERS", 1_000, "orders")

  const connections = get("KURA_DUCKDB_CONNECTIONS")
  const maxConnections = DuckDbWarehouse.MAX_CONNECTIONS
  if (connections !== undefined && (!/^[1-9]\d*$/.test(connections) || Number(connections) > maxConnections))
    problem(
      "KURA_DUCKDB_CONNECTIONS",
      `${JSON.stringify(connections)} is not a number of connections from 1 to ${maxConnections}`,
      `unset it (default ${DuckDbWarehouse.DEFAULT_CONNECTIONS}) or use a whole number from 1 to ${maxConnections}`
    )

  if (problems.length > 0 || !isSource(source)) return new BackfillConfigError({ problems })
  return {
    source,
    streams,
    from,
    to,
    windowMillis,
    concurrency,
    dryRun: args.dryRun,
    restart: args.restart,
    task: { index: taskIndex, count: taskCount },
    warehouse,
    lake,
    shopify,
    lightspeed,
    stocky,
    tokenStore,
    tokenEncryptionKey: tokenKey === undefined ? undefined : Redacted.make(tokenKey),
    bulkPollMillis,
    bulkBusyRetryMillis,
    shopifyFastPath: fastPath !== "0",
    ordersPerLoad,
    windowCheckpoint: windowCheckpoint !== "0",
    checkpointEveryOrders,
    ...(connections === undefined ? {} : { duckDbConnections: Number(connections) })
  }
}

/**
 * The local warehouse file and lake directory, checked before anything opens them (see
 * `localStoreProblems`): a read-only or mistyped directory otherwise surfaced as a DuckDB stack
 * trace (exit 1), or, for the lake, only when the first window landed.
 */
export const checkLocalStores = (
  config: Pick<BackfillConfig, "warehouse" | "lake">
): BackfillConfigError | undefined => {
  const problems = localStoreProblems({
    duckdbFile: config.warehouse.startsWith("duckdb:") ? config.warehouse.slice("duckdb:".length) : null,
    lakeDir: config.lake.startsWith("file:") ? config.lake.slice("file:".length) : null
  }).map((p) => ({
    field: p.store === "warehouse" ? "KURA_WAREHOUSE" : "KURA_LAKE",
    message: p.message,
    fix: p.fix
  }))
  return problems.length > 0 ? new BackfillConfigError({ problems }) : undefined
}
