/**
 * The demo engine: starts the sandbox (in this process, or in a child process), syncs all three sources into a DuckDB file and
 * a local raw lake, and reports rows, API usage and reconciliation against the sandbox's ground
 * truth. Run it twice on the same data dir and the second run is incremental.
 */
import { mkdirSync } from "node:fs"
import { dirname } from "node:path"
import {
  MetricsRegistry,
  makeMemoryTokenStore,
  type StreamKey,
  streamKeyToString,
  type TokenStore
} from "@kura/core"
import { type Sandbox, type SandboxOptions, startSandbox } from "@kura/sandbox"
import {
  CanonicalTables,
  DuckDbWarehouse,
  LocalObjectStore,
  RawLake,
  type ReconciliationReport,
  Warehouse
} from "@kura/warehouse"
import { Clock, Duration, Effect, Layer, Option, Redacted } from "effect"
import { type ApiUsage, apiUsageOf, formatApiUsage } from "../ApiUsage.js"
import type { ShopifyShopConfig } from "../AppConfig.js"
import { type RunResult, SyncError, type SyncStream } from "../SyncStream.js"
import { makeLightspeedStreams } from "../sources/LightspeedStreams.js"
import { makeShopifyStreams } from "../sources/ShopifyStreams.js"
import type { RealSource, SourceDeps } from "../sources/SourceDeps.js"
import { makeStockyStreams } from "../sources/StockyStreams.js"
import { tieOutShop } from "../TieOutCommand.js"
import {
  type DemoSandbox,
  type DemoTruth,
  inProcessDemoSandbox,
  sandboxLightspeedAccount
} from "./DemoSandbox.js"
import { type SandboxProcessSpawn, startSandboxProcess } from "./SandboxProcess.js"

/** Options of `runDemo`; every field has a default. */
export interface DemoOptions {
  /** DuckDB file (default data/kura.duckdb). */
  readonly warehousePath?: string
  /** Raw lake directory (default data/lake). */
  readonly lakeDir?: string
  /**
   * DuckDB settings. Default `{ memory_limit: "128MB", threads: "2" }`: DuckDB's own default
   * (80% of RAM, a thread per core) lets its buffer pool grow far past what a laptop demo needs;
   * bounded, it spills instead of growing. 64MB was too tight: the orders stream's `_kura_raw`
   * MERGE failed "Out of Memory … failed to pin block" in 3 of 10 fresh demos (session 7).
   */
  readonly duckdb?: Readonly<Record<string, string>>
  /** Sandbox seed (default 42). */
  readonly seed?: number
  /** Online orders (default 10,000). */
  readonly scale?: number
  /** Days of history (default 90: keeps the day-by-day POS sync under a minute). */
  readonly historyDays?: number
  /** Sandbox fault profile (default "none"). */
  readonly faults?: SandboxOptions["faults"]
  /** Sandbox clock speed-up (default 20). */
  readonly timeScale?: number
  /** End of generated history, epoch ms (default today 00:00 UTC). */
  readonly anchor?: number
  /** Before syncing, change this fraction of orders (shows an incremental run). Default 0. */
  readonly mutateFraction?: number
  /** Progress lines; default `console.log`. */
  readonly progress?: (line: string) => void
  /** Overrides of the source settings (e.g. a lower bulk threshold). */
  readonly sourceOverrides?: Partial<Omit<SourceDeps, "warehouse" | "lake">>
  /** Use a running sandbox instead of starting one (it is not closed). */
  readonly sandbox?: Sandbox
  /**
   * Start the sandbox in a child process (`npm run demo` does: the sync's heap then holds only the
   * sync). Default: in this process.
   */
  readonly sandboxProcess?: SandboxProcessSpawn
}

/** One stream's outcome. */
export interface DemoStreamResult {
  readonly key: string
  readonly status: "ok" | "failed" | "stopped"
  readonly rows: number
  /** The API's count agreed with what was loaded (null when the API reports no count). */
  readonly tied: boolean | null
  /** First sync of the stream (no checkpoint before this run). */
  readonly full: boolean
  readonly detail: string
  /** What this stream's run cost the API. */
  readonly api?: ApiUsage
}

/** API usage of one source, from core Telemetry (Shopify cost points included). */
export type DemoApiUsage = ApiUsage

/** What a demo run found. */
export interface DemoReport {
  /** True when some stream already had a checkpoint (the data dir was synced before). */
  readonly incremental: boolean
  readonly elapsedMs: number
  readonly streams: ReadonlyArray<DemoStreamResult>
  /** Live (not deleted) rows per canonical table, after the run. */
  readonly rows: Readonly<Record<string, number>>
  readonly api: Readonly<Record<RealSource, DemoApiUsage>>
  readonly reconciliation: {
    /** Every stream that reports a count tied to it. */
    readonly sourcesTied: boolean
    readonly expected: {
      readonly onlineOrders: number
      readonly posSales: number
      readonly customers: number
      readonly variants: number
      readonly locations: number
      readonly onlineRevenue: string
      readonly posRevenue: string
      readonly injectedDiscrepancies: number
    }
    readonly loaded: {
      readonly onlineOrders: number
      readonly posSales: number
      readonly customers: number
      readonly onlineRevenue: string
      readonly posRevenue: string
    }
    /** Loaded counts and revenue equal the ground truth. */
    readonly matchesGroundTruth: boolean
    /**
     * Share of verifiable stock cells (SKU × stock location whose whole movement history the APIs
     * show) whose observed on-hand equals what every synced movement of every source adds up to
     * (the sandbox shop opens inside its history, so its stock starts at zero). Null when no cell
     * is verifiable.
     */
    readonly inventoryAccuracy: number | null
    /**
     * Cells the accuracy covers; the rest had movements no API lists (Shopify adjustments after
     * Stocky's shutdown, orders deleted in Shopify before Kura first read them).
     */
    readonly verifiableCells: number
    /** The warehouse's snapshot-to-snapshot accuracy (null until a second day's snapshot). */
    readonly snapshotAccuracy: number | null
    /** Stock cells checked. */
    readonly stockCells: number
    /** Stock cells whose observed on-hand differs from the stock the loaded movements give. */
    readonly discrepanciesFound: number
    /** Of the injected discrepancies, how many were found. */
    readonly injectedFound: number
    /**
     * Found cells fully explained by the ground truth, by cause: injected (shrinkage, miscounts),
     * adjustments made in Shopify after Stocky's shutdown (no API lists them), and orders deleted in
     * Shopify before Kura first read them (e.g. a re-run after a first run stopped part-way: the
     * demo deletes a few orders before its second run; their goods moved, and no API lists them).
     */
    readonly explained: {
      readonly injected: number
      readonly unlistedAdjustments: number
      readonly deletedBeforeRead: number
    }
    /** Found differences the ground truth does not explain: a pipeline defect if not empty. */
    readonly otherDifferences: ReadonlyArray<string>
    readonly incompleteRuns: number
    /**
     * Shopify's own Analytics (ShopifyQL `FROM sales`, orders and total_sales per day) against the
     * warehouse over the history (`kura-sync tie-out`), or why it could not be read.
     */
    readonly analytics:
      | {
          readonly days: number
          readonly tiedDays: number
          readonly differingDays: number
          readonly syncingDays: number
          readonly zone: string
        }
      | { readonly error: string }
  }
}

const minorDigits = (currency: string): number =>
  ["JPY", "KRW", "VND", "CLP", "ISK"].includes(currency) ? 0 : 2

/** Minor units → a decimal string in the currency's major unit. */
const fromMinor = (minor: number, digits: number): string => {
  if (digits === 0) return String(minor)
  const sign = minor < 0 ? "-" : ""
  const abs = Math.abs(minor)
  const base = 10 ** digits
  return `${sign}${Math.floor(abs / base)}.${String(abs % base).padStart(digits, "0")}`
}

/**
 * The demo's DuckDB bounds (see `DemoOptions.duckdb`); freed memory goes back to the system above
 * 8MB instead of DuckDB's 128/512 MiB (as `kura-sync run` and kura-backfill do).
 */
export const DEMO_DUCKDB: Readonly<Record<string, string>> = {
  memory_limit: "128MB",
  threads: "2",
  allocator_flush_threshold: "8MB",
  allocator_bulk_deallocation_flush_threshold: "8MB"
}

/** Normalises a decimal string ("1200.000000000" → "1200"). */
const normDecimal = (text: string): string => {
  if (!text.includes(".")) return text
  const trimmed = text.replace(/0+$/, "").replace(/\.$/, "")
  return trimmed === "-0" ? "0" : trimmed
}

const usage = (registry: MetricsRegistry): DemoApiUsage => apiUsageOf(registry)

let runCounter = 0

// Lightspeed refresh tokens are single-use: every run against one sandbox must see the rotated one.
const tokenStores = new WeakMap<object, TokenStore["Service"]>()
const tokenStoreOf = (sandbox: object): TokenStore["Service"] => {
  const existing = tokenStores.get(sandbox)
  if (existing !== undefined) return existing
  const store = makeMemoryTokenStore(new Map())
  tokenStores.set(sandbox, store)
  return store
}

/** Runs one stream as the runner would: resume from the checkpoint, commit through the ledger. */
export const runStreamOnce = (
  warehouse: Warehouse["Service"],
  stream: SyncStream,
  draining: Effect.Effect<boolean> = Effect.succeed(false)
): Effect.Effect<{ readonly result: RunResult | SyncError; readonly full: boolean }> =>
  Effect.gen(function* () {
    const checkpoint = yield* Effect.orElseSucceed(warehouse.checkpoints.get(stream.key), () => Option.none())
    const now = yield* Clock.currentTimeMillis
    const runId = `demo-${now.toString(36)}-${(runCounter++).toString(36)}`
    const outcome = yield* Effect.result(
      stream.run({
        runId,
        checkpoint,
        draining,
        commit: (cursor, meta) =>
          warehouse.checkpoints.put({
            key: stream.key,
            cursor,
            updatedAt: now,
            ...(meta === undefined ? {} : { meta })
          })
      })
    )
    // What the run cost the API goes into its ledger row, as kura-sync's pass does (v_api_usage).
    if (outcome._tag === "Success" && outcome.success.api !== undefined)
      yield* Effect.ignore(
        warehouse.recordRunUsages([{ runId, key: stream.key, usage: outcome.success.api }])
      )
    const result: RunResult | SyncError =
      outcome._tag === "Success"
        ? outcome.success
        : outcome.failure._tag === "SyncError"
          ? outcome.failure
          : new SyncError({ reason: "Warehouse", message: outcome.failure.message })
    return { result, full: Option.isNone(checkpoint) }
  })

const keyText = (key: StreamKey) => streamKeyToString(key)

/** The demo as an Effect over a running sandbox and a Warehouse + RawLake in context. */
export const runDemoWith = (given: Sandbox | DemoSandbox, options: DemoOptions = {}) =>
  Effect.gen(function* () {
    const sandbox = "groundTruth" in given ? inProcessDemoSandbox(given) : given
    const warehouse = yield* Warehouse
    const lake = yield* RawLake
    const progress = options.progress ?? ((line: string) => console.log(line))
    const started = yield* Clock.currentTimeMillis
    yield* warehouse.migrate
    progress(
      `sandbox: ${sandbox.merchant.orders} online orders over ${sandbox.merchant.historyDays} days; syncing shopify, lightspeed and stocky`
    )
    const telemetry: Record<RealSource, MetricsRegistry> = {
      shopify: new MetricsRegistry(),
      lightspeed: new MetricsRegistry(),
      stocky: new MetricsRegistry()
    }
    const anchor = sandbox.merchant.anchor
    const historyDays = sandbox.merchant.historyDays
    const releases: Array<Effect.Effect<void>> = []
    const deps: SourceDeps = {
      warehouse,
      lake,
      telemetry,
      sandbox: true,
      tokenStore: tokenStoreOf(given),
      stockyTimeZone: sandbox.merchant.tax === "eu" ? "Europe/Berlin" : "Asia/Tokyo",
      lightspeedFromDate: new Date(anchor - (historyDays + 2) * 86_400_000).toISOString().slice(0, 10),
      progress,
      onRelease: (release) => releases.push(release),
      ...options.sourceOverrides
    }
    const interval = () => 15 * 60_000
    const { shopify, lightspeed, stocky } = sandbox
    const shopifyShop: ShopifyShopConfig = {
      shop: shopify.credentials.shopDomain,
      auth: { _tag: "AccessToken", accessToken: Redacted.make(shopify.credentials.accessToken) },
      apiVersion: shopify.credentials.apiVersion,
      apiBaseUrl: Option.some(shopify.baseUrl),
      webhookSecret: Option.none()
    }
    const groups: ReadonlyArray<ReadonlyArray<SyncStream>> = [
      makeShopifyStreams(shopifyShop, deps, interval),
      makeLightspeedStreams(sandboxLightspeedAccount(lightspeed), deps, interval),
      makeStockyStreams(
        {
          storeName: stocky.credentials.storeName,
          apiKey: Redacted.make(stocky.credentials.apiKey),
          // The emulator serves Stocky's paths under /api/v2, as production does.
          apiBaseUrl: Option.some(`${stocky.baseUrl}/api/v2`)
        },
        deps,
        interval
      )
    ]
    // Shopify's locations and catalogue first: the others map stock onto them. Then the sources
    // run side by side, streams of one source in order (the API limits are per source).
    const [shopifyStreams = [], ...others] = groups
    const first = shopifyStreams.filter((s) => s.key.stream === "locations" || s.key.stream === "products")
    const rest = [shopifyStreams.filter((s) => !first.includes(s)), ...others]
    const runGroup = (streams: ReadonlyArray<SyncStream>) =>
      Effect.forEach(streams, (stream) =>
        Effect.map(
          Effect.timed(runStreamOnce(warehouse, stream)),
          ([took, { result, full }]): DemoStreamResult => {
            const key = keyText(stream.key)
            const r: DemoStreamResult =
              "_tag" in result
                ? { key, status: "failed", rows: 0, tied: false, full, detail: result.message }
                : {
                    key,
                    status: result.stoppedEarly === true ? "stopped" : "ok",
                    rows: result.rows,
                    tied:
                      result.reconciliation === "ok"
                        ? true
                        : result.reconciliation === "mismatch"
                          ? false
                          : null,
                    full,
                    detail: result.detail ?? "",
                    ...(result.api === undefined ? {} : { api: result.api })
                  }
            progress(
              `${r.status === "ok" ? "✓" : "✗"} ${key}: ${r.rows} records${r.full ? "" : " (incremental)"} in ${Math.round(Duration.toMillis(took))} ms${r.api === undefined ? "" : `, ${formatApiUsage(r.api)}`}${r.status === "failed" ? ` — ${r.detail}` : ""}`
            )
            return r
          }
        )
      )
    // The catalogue lands first and alone: the other streams resolve variants and locations against
    // it. If it failed, they wait for the next pass (their cursors stay) rather than land rows with
    // variants missing, which no later incremental read would repair.
    const perGroup = yield* Effect.gen(function* () {
      const catalogue = yield* runGroup(first)
      const failed = catalogue.filter((r) => r.status === "failed").map((r) => r.key)
      if (failed.length > 0) {
        const skipped = rest.flat().map(
          (stream): DemoStreamResult => ({
            key: keyText(stream.key),
            status: "failed",
            rows: 0,
            tied: false,
            full: false,
            detail: `not run: the catalogue stream(s) ${failed.join(", ")} failed`
          })
        )
        for (const r of skipped) progress(`✗ ${r.key}: ${r.detail}`)
        return [catalogue, skipped]
      }
      return [catalogue, ...(yield* Effect.forEach(rest, runGroup, { concurrency: "unbounded" }))]
    }).pipe(Effect.ensuring(Effect.all(releases, { discard: true })))
    const streams = perGroup.flat()

    const rows: Record<string, number> = {}
    for (const table of Object.keys(CanonicalTables)) {
      const r = yield* warehouse.query(`SELECT COUNT(*) AS n FROM ${table} WHERE _deleted_at IS NULL`)
      rows[table] = Number(r[0]?.n ?? 0)
    }
    const countWhere = (sql: string) => Effect.map(warehouse.query(sql), (r) => Number(r[0]?.n ?? 0))
    // The ground truth's revenue is every live order's total (cancelled ones included).
    const revenue = (channel: string) =>
      Effect.map(
        warehouse.query(
          `SELECT CAST(COALESCE(SUM(total), 0) AS VARCHAR) AS total FROM orders WHERE channel = '${channel}' AND _deleted_at IS NULL`
        ),
        (r) => normDecimal(String(r[0]?.total ?? "0"))
      )
    const truth = yield* Effect.promise(() => sandbox.truth())
    const currency = sandbox.merchant.tax === "eu" ? "EUR" : "JPY"
    const digits = minorDigits(currency)
    const gross = (channel: "online" | "pos") => fromMinor(truth.grossMinor[channel], digits)
    const loaded = {
      onlineOrders: yield* countWhere(
        "SELECT COUNT(*) AS n FROM orders WHERE channel = 'online' AND _deleted_at IS NULL AND source = 'shopify'"
      ),
      posSales: yield* countWhere(
        "SELECT COUNT(*) AS n FROM orders WHERE _deleted_at IS NULL AND source = 'lightspeed'"
      ),
      customers: rows.customers ?? 0,
      onlineRevenue: yield* revenue("online"),
      posRevenue: yield* revenue("pos")
    }
    const expected = {
      onlineOrders: truth.counts.onlineOrders,
      posSales: truth.counts.posSales,
      customers: truth.counts.customers,
      variants: truth.counts.variants,
      locations: truth.counts.locations,
      onlineRevenue: gross("online"),
      posRevenue: gross("pos"),
      // Distinct SKU-locations: two injections can hit the same cell.
      injectedDiscrepancies: truth.injected.length
    }
    const report: ReconciliationReport = yield* warehouse.reconcile
    // Shopify's own Analytics (the emulator answers ShopifyQL from its store model), day by day
    // over the history, as `kura-sync tie-out` compares them.
    const analyticsDay = (t: number) => new Date(t).toISOString().slice(0, 10)
    const analytics = yield* tieOutShop(shopifyShop, {
      since: Option.some(analyticsDay(anchor - (historyDays + 1) * 86_400_000)),
      until: Option.some(analyticsDay(anchor + 86_400_000)),
      syncedAt: started
    }).pipe(
      Effect.map((t) => ({
        days: t.days.length,
        tiedDays: t.tiedDays,
        differingDays: t.differingDays,
        syncingDays: t.syncingDays,
        zone: t.zone
      })),
      Effect.catch((e) => Effect.succeed({ error: e.message }))
    )
    const stock = yield* checkStock(warehouse, truth)
    const finished = yield* Clock.currentTimeMillis
    const demo: DemoReport = {
      incremental: streams.some((s) => !s.full),
      elapsedMs: finished - started,
      streams,
      rows,
      api: {
        shopify: usage(telemetry.shopify),
        lightspeed: usage(telemetry.lightspeed),
        stocky: usage(telemetry.stocky)
      },
      reconciliation: {
        sourcesTied: streams.every((s) => s.status === "ok" && s.tied !== false),
        expected,
        loaded,
        matchesGroundTruth:
          loaded.onlineOrders === expected.onlineOrders &&
          loaded.posSales === expected.posSales &&
          loaded.customers === expected.customers &&
          loaded.onlineRevenue === expected.onlineRevenue &&
          loaded.posRevenue === expected.posRevenue,
        inventoryAccuracy: stock.verifiable === 0 ? null : stock.accurate / stock.verifiable,
        snapshotAccuracy: report.inventoryAccuracy,
        stockCells: stock.cells,
        verifiableCells: stock.verifiable,
        discrepanciesFound: stock.found.length,
        injectedFound: stock.found.filter((c) => c.injected !== 0).length,
        explained: stock.explained,
        otherDifferences: stock.found
          .filter((c) => !isExplained(c))
          .map((c) => `${c.cell} (${c.delta > 0 ? "+" : ""}${c.delta})`),
        incompleteRuns: report.incompleteRuns.length,
        analytics
      }
    }
    return demo
  })

/** One stock cell (canonical SKU | Shopify location) whose observed on-hand differs from the movements. */
interface FoundCell {
  readonly cell: string
  /** Observed minus movement-derived on-hand. */
  readonly delta: number
  /** What the ground truth says explains it, per cause (units). */
  readonly injected: number
  readonly unlistedAdjustments: number
  /**
   * Net movement of orders the warehouse lists in `v_deleted_before_read` (deleted in Shopify before
   * Kura read them; no API lists their lines).
   */
  readonly deletedBeforeRead: number
}

/** A found cell whose difference the ground truth accounts for in full. */
const isExplained = (c: FoundCell): boolean =>
  c.delta === c.injected + c.unlistedAdjustments + c.deletedBeforeRead

/**
 * Observed on-hand (the latest daily snapshot of each Shopify stock cell) against every synced
 * movement of every source placed in that cell by the warehouse (`v_stock_movements`: sku_map and
 * location links), and each difference checked against the sandbox's ground truth.
 */
const checkStock = (warehouse: Warehouse["Service"], truth: DemoTruth) =>
  Effect.gen(function* () {
    const derived = new Map<string, number>()
    for (const r of yield* warehouse.query(
      "SELECT sku, stock_location_id, CAST(SUM(quantity) AS BIGINT) AS q FROM v_stock_movements WHERE stock_source = 'shopify' GROUP BY sku, stock_location_id"
    ))
      derived.set(`${String(r.sku)}|${String(r.stock_location_id)}`, Number(r.q))
    const observed = yield* warehouse.query(
      "SELECT UPPER(TRIM(COALESCE(sku, variant_id))) AS sku, location_id, quantity FROM (SELECT sku, variant_id, location_id, quantity, ROW_NUMBER() OVER (PARTITION BY source_account, variant_id, location_id ORDER BY snapshot_date DESC, observed_at DESC) AS rn FROM inventory_levels WHERE source = 'shopify' AND quantity_name = 'on_hand' AND _deleted_at IS NULL) AS l WHERE l.rn = 1"
    )
    // What the ground truth knows and no API shows, per cell.
    const injected = new Map(truth.injected)
    const unlisted = new Map(truth.unlistedAdjustments)
    // Orders the warehouse itself knows were deleted in Shopify before it read them (its
    // `deleted_before_read` evidence): their movements are in the observed stock and in no API;
    // the ground truth only says which cells their lines moved.
    const deletedBeforeRead = new Set(
      (yield* warehouse.query("SELECT source_id FROM v_deleted_before_read WHERE source = 'shopify'")).map(
        (r) => String(r.source_id)
      )
    )
    const unseen = new Map<string, number>()
    for (const o of truth.deletedOrders)
      if (deletedBeforeRead.has(o.id))
        for (const [cell, q] of o.cells) unseen.set(cell, (unseen.get(cell) ?? 0) + q)
    const found: Array<FoundCell> = []
    // A cell is verifiable when the APIs show its whole movement history.
    let verifiable = 0
    let accurate = 0
    for (const r of observed) {
      const cell = `${String(r.sku)}|${String(r.location_id)}`
      const delta = Number(r.quantity) - (derived.get(cell) ?? 0)
      if (!unlisted.has(cell) && !unseen.has(cell)) {
        verifiable++
        if (delta === 0) accurate++
      }
      if (delta === 0) continue
      found.push({
        cell,
        delta,
        injected: injected.get(cell) ?? 0,
        unlistedAdjustments: unlisted.get(cell) ?? 0,
        deletedBeforeRead: unseen.get(cell) ?? 0
      })
    }
    found.sort((a, b) => a.cell.localeCompare(b.cell))
    const explainedBy = (pick: (c: FoundCell) => number) =>
      found.filter((c) => isExplained(c) && pick(c) !== 0).length
    return {
      cells: observed.length,
      verifiable,
      accurate,
      found,
      explained: {
        injected: explainedBy((c) => c.injected),
        unlistedAdjustments: explainedBy((c) => c.unlistedAdjustments),
        deletedBeforeRead: explainedBy((c) => c.deletedBeforeRead)
      }
    }
  })

/** Runs the whole demo: sandbox, one sync of every source, the report. */
export const runDemo = async (options: DemoOptions = {}): Promise<DemoReport> => {
  const warehousePath = options.warehousePath ?? "data/kura.duckdb"
  const lakeDir = options.lakeDir ?? "data/lake"
  mkdirSync(dirname(warehousePath), { recursive: true })
  mkdirSync(lakeDir, { recursive: true })
  const sandboxOptions = {
    seed: options.seed ?? 42,
    scale: options.scale ?? 10_000,
    historyDays: options.historyDays ?? 90,
    faults: options.faults ?? "none",
    timeScale: options.timeScale ?? 20,
    ...(options.anchor === undefined ? {} : { anchor: options.anchor })
  } as const
  const sandbox: DemoSandbox =
    options.sandbox !== undefined
      ? inProcessDemoSandbox(options.sandbox)
      : options.sandboxProcess !== undefined && typeof sandboxOptions.faults === "string"
        ? await startSandboxProcess(options.sandboxProcess, {
            ...sandboxOptions,
            faults: sandboxOptions.faults
          })
        : inProcessDemoSandbox(await startSandbox(sandboxOptions), true)
  try {
    if (options.mutateFraction !== undefined && options.mutateFraction > 0)
      await sandbox.mutate(options.mutateFraction)
    const layer = Layer.mergeAll(
      DuckDbWarehouse.layer({ path: warehousePath, config: options.duckdb ?? DEMO_DUCKDB }),
      RawLake.layer.pipe(Layer.provide(LocalObjectStore.layer(lakeDir)))
    )
    return await Effect.runPromise(
      runDemoWith(options.sandbox ?? sandbox, options).pipe(Effect.provide(layer))
    )
  } finally {
    await sandbox.close()
  }
}
