/**
 * Check 3, bad records, through the real `kura-sync run --force` (built dist, KURA_SANDBOX=1, the
 * same seed and anchor twice): once from a clean sandbox and once from one that renders
 * N records per stream with a wrongly typed field (Shopify orders: an impossible `createdAt` and a
 * `NaN` total; Lightspeed sales: a non-numeric line amount; Stocky purchase orders: a non-numeric
 * line quantity; Stocky stock adjustments: a non-integer `sequential_id`; Shopify customers and
 * products: an impossible `createdAt`, which the warehouse mapper refuses). Every injected record
 * must land in `_kura_dead_letters`, exactly as many as injected per source and per stream, each
 * with a reason, a detail and its raw API payload (which must hold the injected bad value); the
 * items of a dead-lettered adjustment (their own endpoint) must land there too, as orphans, never
 * dropped silently; every stream must still succeed; and
 * every other row must load: the bad run's canonical tables equal the clean run's minus exactly
 * the rows of the dead-lettered records (no extra row, no other row missing), and the loaded
 * counts equal the sandbox's ground truth, which leaves the injected records out. One exception is
 * counted on its own: a dead-lettered product's variants are missing from the inventory catalog, so
 * the catalog-joined lines of those variants (Stocky purchase-order lines, receipts, transfers)
 * load unlinked, equal to the clean run's but for a null variant (see `unlinkedPairs`).
 *
 * Then the operator path after the fix, through the built `kura-sync` (its sandbox now the fixed
 * source: the same seed, nothing malformed): `kura-sync dead-letters list --json` must count per
 * stream exactly what was injected (orphan items apart); each record is corrected as the fixed
 * source serves it (the stored payload with every injected value replaced by the clean run's raw
 * lake copy of the same record, at the same place) and replayed by `kura-sync dead-letters replay`,
 * one letter with `--id … --payload-file …` and the rest with `--payloads-file` (id → record).
 * Afterwards every record letter is replayed with its orphan items as companions, each letter is
 * marked replayed after one attempt (the warehouse's bookkeeping), nothing is pending, the counts
 * tie with the sandbox's truth plus the injected records, and the tables equal the clean run's,
 * the unlinked lines included: replaying a product links them to its variants
 * (`Warehouse.relinkVariants`, which the replay runs once variants loaded). `kura-sync tie-out`
 * (Shopify's own Analytics through ShopifyQL, which the fixed source answers for every order)
 * runs before and after the replay: before, the days that differ add up to exactly the
 * dead-lettered orders, each naming the dead letters, and it exits 1; after, every day ties.
 */
import { readdirSync, readFileSync, writeFileSync } from "node:fs"
import path from "node:path"
import { gunzipSync } from "node:zlib"
import { DuckDbWarehouse, type StoredDeadLetter, Warehouse } from "@kura/warehouse"
import { Effect } from "effect"
import { canonical, quick, runCheck, SYNC_RUNNER, spawnCaptured, workDir } from "../lib.ts"
import {
  kuraSyncRun,
  readSandboxReport,
  readTableRows,
  SANDBOX_HOOK,
  type StreamLine,
  streamLines,
  syncEnv,
  type TableRows
} from "../syncRun.ts"

const CHECK = "bad-records"

/** Columns of an order's child rows that point at it (a dead-lettered order takes its lines). */
const ORDER_PARENTS = ["order_id", "refund_id", "parent_id"]

/**
 * Which stream of which source the sandbox renders malformed, the bad value it writes, the
 * canonical table of the record itself and the `reference_type` its stock movements carry.
 */
const INJECTED = [
  {
    source: "shopify",
    stream: "orders",
    bad: ["0000-00-00", "NaN"],
    table: "orders",
    ref: "order",
    parents: ORDER_PARENTS
  },
  {
    source: "lightspeed",
    stream: "sales",
    bad: ['"abc"'],
    table: "orders",
    ref: "order",
    parents: ORDER_PARENTS
  },
  {
    source: "stocky",
    stream: "purchase_orders",
    bad: ['"abc"'],
    table: "purchase_orders",
    ref: "purchase_order",
    parents: ["purchase_order_id"]
  },
  {
    source: "shopify",
    stream: "customers",
    bad: ["0000-00-00"],
    table: "customers",
    ref: "",
    parents: []
  },
  // A product's own rows are named by `ofProductLetter`, not by `parents`: `order_lines.product_id`
  // points at a product too, but an order's lines come from the order's record, not the product's.
  {
    source: "shopify",
    stream: "products",
    bad: ["0000-00-00"],
    table: "products",
    ref: "",
    parents: []
  },
  // An adjustment has no canonical row of its own: its items become stock movements.
  {
    source: "stocky",
    stream: "stock_adjustments",
    bad: ['"sequential_id":"abc"'],
    table: "",
    ref: "stock_adjustment",
    parents: []
  }
] as const

/** The values the sandbox writes into a malformed record. */
const BAD_VALUES = new Set(["0000-00-00T00:00:00Z", "0000-00-00T00:00:00+00:00", "NaN", "abc"])

/** kura-sync's reason for an adjustment item whose adjustment did not load. */
const ORPHAN = "orphan"

/** `gid://shopify/Order/123` and `123` name the same record. */
const idForms = (id: string): Array<string> => {
  const tail = /\/(\d+)$/.exec(id)?.[1]
  return tail === undefined ? [id] : [id, tail]
}

/** `source|refund id` → order id, from the clean run's `refunds` (a refund's restock belongs to its order). */
const refundOrder = new Map<string, string>()

/**
 * The variant ids (`legacyResourceId`) of a product letter's raw payload: the variants the product
 * record carries, the only variants its mapper writes.
 */
const variantsOfLetter = (letter: StoredDeadLetter): Set<string> => {
  const out = new Set<string>()
  if (letter.key.stream !== "products" || letter.reason === ORPHAN) return out
  const variants = get(parseJson(letter.payload), ["variants"])
  if (Array.isArray(variants))
    for (const v of variants) {
      const id = get(v, ["legacyResourceId"])
      if (typeof id === "string") out.add(id)
    }
  return out
}

/**
 * True when row `r` of `table` is one the product record of `letter` produces itself (the product
 * mapper's output): its `products` row, its `variants` (`product_id`) and their `sku_map` rows (one
 * per variant of its payload). Other rows naming the product or its variants come from other
 * records and are not the letter's: order lines (the order's record carries the product and
 * variant ids), inventory levels (the inventory item's record names its variant) and the catalog-
 * joined lines `unlinkedPairs` accounts for.
 */
const ofProductLetter = (letter: StoredDeadLetter, table: string, r: Record<string, unknown>): boolean => {
  const ids = letter.sourceId === null ? [] : idForms(letter.sourceId)
  const is = (v: unknown) => typeof v === "string" && ids.includes(v)
  if (table === "products") return is(r.source_id)
  if (table === "variants") return is(r.product_id)
  if (table === "sku_map")
    return typeof r.variant_id === "string" && variantsOfLetter(letter).has(r.variant_id)
  return false
}

/** True when canonical row `r` of `table` is (part of) the record a letter stands for. */
const ofLetter = (letter: StoredDeadLetter, table: string, r: Record<string, unknown>): boolean => {
  const inj = INJECTED.find((i) => i.source === letter.key.source && i.stream === letter.key.stream)
  if (inj === undefined || letter.reason === ORPHAN || r.source !== letter.key.source) return false
  if (inj.stream === "products") return ofProductLetter(letter, table, r)
  const ids = letter.sourceId === null ? [] : idForms(letter.sourceId)
  const is = (v: unknown) => typeof v === "string" && ids.includes(v)
  if (table === inj.table && is(r.source_id)) return true
  if (table === "inventory_movements")
    return (
      (r.reference_type === inj.ref && is(r.reference_id)) ||
      (inj.ref === "order" &&
        r.reference_type === "refund" &&
        is(refundOrder.get(`${r.source}|${r.reference_id}`)))
    )
  return table !== inj.table && inj.parents.some((c) => is(r[c]))
}

/**
 * Tables whose lines take their variant from the shop's inventory catalog: the Shopify variants
 * already in the warehouse, looked up by inventory item. Stocky's purchase-order lines (and their
 * receipts) and transfer items name only an inventory item, a transfer item not even a SKU, as do
 * Shopify's native transfers and purchase orders; Stocky's adjustment items carry their Shopify
 * variant, so they never need the catalog.
 */
const CATALOG_JOINED = new Set(["purchase_order_lines", "inventory_movements"])

/** The columns a catalog lookup fills in (null when the item is not in the catalog). */
const CATALOG_COLUMNS = new Set(["variant_id", "sku"])

/** A row that loaded unlinked: the clean run's row and the other run's, keyed alike. */
interface Unlinked {
  readonly table: string
  readonly source_id: unknown
  readonly variant_id: unknown
  readonly clean: Record<string, unknown>
  readonly other: Record<string, unknown>
}

/**
 * The rows a dead-lettered product leaves unlinked: its variants never reach the warehouse, so the
 * inventory catalog lacks them and a catalog-joined line of one of them (a Stocky purchase-order
 * line, its receipt, a transfer's movements) still loads, but with a null `variant_id` (and a null
 * `sku` where the line names none). These rows are not the product record's own and are not
 * missing: each pairs one-to-one (same table and key) with the clean run's row, equal in every
 * column but the catalog's, which are null here where the clean run has one of a product letter's
 * `variants`. Their own records are not read again (Stocky's history, frozen since its shutdown,
 * is never updated), so replaying the product must link them (`Warehouse.relinkVariants`): the
 * check asserts that none is left afterwards. `missing` and `extra` are the two runs' per-table
 * differences.
 */
const unlinkedPairs = (
  missing: Record<string, Array<Record<string, unknown>>>,
  extra: Record<string, Array<Record<string, unknown>>>,
  variants: ReadonlySet<string>
): Array<Unlinked> => {
  const key = (r: Record<string, unknown>) => canonical([r.source, r.source_account, r.source_id])
  const out: Array<Unlinked> = []
  for (const [table, rows] of Object.entries(missing)) {
    if (!CATALOG_JOINED.has(table)) continue
    const others = new Map((extra[table] ?? []).map((r) => [key(r), r]))
    for (const clean of rows) {
      const other = others.get(key(clean))
      if (other === undefined || typeof clean.variant_id !== "string" || !variants.has(clean.variant_id))
        continue
      const columns = new Set([...Object.keys(clean), ...Object.keys(other)])
      const differ = [...columns].filter((c) => canonical(clean[c]) !== canonical(other[c]))
      if (differ.every((c) => CATALOG_COLUMNS.has(c) && other[c] === null))
        out.push({ table, source_id: clean.source_id, variant_id: clean.variant_id, clean, other })
    }
  }
  return out
}

const readLetters = (file: string) =>
  Effect.runPromise(
    Effect.gen(function* () {
      const wh = yield* Warehouse
      return yield* wh.listDeadLetters({ includeReplayed: true })
    }).pipe(Effect.provide(DuckDbWarehouse.layer({ path: file, migrate: false })))
  )

/** Per table: rows of `a` not in `b` (by canonical content). */
const minus = (a: TableRows, b: TableRows): Record<string, Array<Record<string, unknown>>> => {
  const out: Record<string, Array<Record<string, unknown>>> = {}
  for (const [table, rows] of Object.entries(a)) {
    const inB = new Map<string, number>()
    for (const r of b[table] ?? []) {
      const k = canonical(r)
      inB.set(k, (inB.get(k) ?? 0) + 1)
    }
    const left: Array<Record<string, unknown>> = []
    for (const r of rows) {
      const k = canonical(r)
      const n = inB.get(k) ?? 0
      if (n > 0) inB.set(k, n - 1)
      else left.push(r)
    }
    if (left.length > 0) out[table] = left
  }
  return out
}

const countOf = (rows: TableRows, table: string, source: string) =>
  (rows[table] ?? []).filter((r) => r.source === source && r._deleted_at == null).length

await runCheck(CHECK, async () => {
  const base = workDir(CHECK)
  const malformed = quick ? 3 : 10
  const malformedProducts = quick ? 2 : 3
  const seconds: Record<string, number> = {}
  const sync = async (label: "clean" | "bad") => {
    const dir = path.join(base, label)
    const report = path.join(base, `${label}-sandbox.json`)
    const started = Date.now()
    const run = kuraSyncRun(`kura-sync-${label}`, dir, {
      scale: quick ? 100 : 600,
      historyDays: quick ? 10 : 30,
      // Stocky has data only before its 2026-09-01 shutdown.
      anchor: "2026-08-25",
      ...(label === "bad" ? { malformed, malformedProducts } : {}),
      report,
      secretsOf: CHECK
    })
    const exit = await run.exited
    seconds[label] = (Date.now() - started) / 1000
    const lines = streamLines(run.output())
    if (lines.length === 0)
      throw new Error(
        `the ${label} run failed (exit ${exit.code ?? exit.signal}):\n${run.output().slice(-3000)}`
      )
    return { dir, exit, lines, db: path.join(dir, "kura.duckdb"), sandbox: readSandboxReport(report) }
  }
  // Two processes on two warehouses: they mostly wait on the emulators' pacing, so run them at once.
  const [clean, bad] = await Promise.all([sync("clean"), sync("bad")])
  const truth = bad.sandbox.truth as
    | {
        malformed: Record<string, number>
        malformedAdjustments: { adjustments: number; items: number }
        malformedCustomers: number
        malformedProducts: number
        onlineOrders: number
        posSales: number
        purchaseOrders: number
        purchaseOrderLines: number
        customers: number
        products: number
        suppliers: number
      }
    | undefined
  if (truth === undefined) throw new Error("the bad run's sandbox wrote no ground truth")
  const letters = await readLetters(bad.db)
  const cleanLetters = await readLetters(clean.db)
  const cleanRows = await readTableRows(clean.db)
  const badRows = await readTableRows(bad.db)
  for (const r of cleanRows.refunds ?? [])
    if (typeof r.order_id === "string") refundOrder.set(`${r.source}|${r.source_id}`, r.order_id)

  // Letters per source and stream, against what the sandbox injected.
  const perStream = INJECTED.map((inj) => {
    const all = letters.filter((l) => l.key.source === inj.source && l.key.stream === inj.stream)
    const mine = all.filter((l) => l.reason !== ORPHAN)
    const orphans = all.filter((l) => l.reason === ORPHAN)
    const owners = new Set(mine.map((l) => l.sourceId))
    const isAdjustments = inj.stream === "stock_adjustments"
    const withPayload = mine.filter(
      (l) => l.payload.length > 0 && inj.bad.some((v) => l.payload.includes(v)) && isJson(l.payload)
    )
    return {
      stream: `${inj.source}/${inj.stream}`,
      injected: isAdjustments
        ? truth.malformedAdjustments.adjustments
        : inj.stream === "customers"
          ? truth.malformedCustomers
          : inj.stream === "products"
            ? truth.malformedProducts
            : (truth.malformed[inj.source] ?? 0),
      orphanItems: orphans.length,
      orphanItemsExpected: isAdjustments ? truth.malformedAdjustments.items : 0,
      // Every orphan item belongs to a dead-lettered adjustment.
      orphansOfLetters: orphans.filter((o) => owners.has(String(parseStockAdjustmentId(o.payload)))).length,
      deadLettered: mine.length,
      distinctRecords: new Set(mine.map((l) => l.sourceId)).size,
      withReasonAndDetail: mine.filter((l) => l.reason.length > 0 && l.detail.length > 0).length,
      withRawPayload: withPayload.length,
      reasons: [...new Set(mine.map((l) => l.reason))]
    }
  })
  const elsewhere = letters.filter(
    (l) => !INJECTED.some((inj) => inj.source === l.key.source && inj.stream === l.key.stream)
  )
  const lettersOk = perStream.every(
    (s) =>
      s.injected > 0 &&
      s.injected <= malformed &&
      s.orphanItems === s.orphanItemsExpected &&
      s.orphansOfLetters === s.orphanItems &&
      s.deadLettered === s.injected &&
      s.distinctRecords === s.injected &&
      s.withReasonAndDetail === s.injected &&
      s.withRawPayload === s.injected
  )

  // Everything else loads: bad = clean minus exactly the dead-lettered records' rows.
  const belongs = (table: string, r: Record<string, unknown>) => letters.some((l) => ofLetter(l, table, r))
  const missing = minus(cleanRows, badRows)
  const extra = minus(badRows, cleanRows)
  const missingOfLetters = Object.entries(missing).reduce(
    (n, [t, rows]) => n + rows.filter((r) => belongs(t, r)).length,
    0
  )
  // Catalog-joined lines of a dead-lettered product's variants load unlinked (see `unlinkedPairs`):
  // counted and shown on their own, neither missing nor extra.
  const letterVariants = new Set(letters.flatMap((l) => [...variantsOfLetter(l)]))
  const unlinked = unlinkedPairs(missing, extra, letterVariants)
  const unlinkedClean = new Set(unlinked.map((u) => u.clean))
  const unlinkedOther = new Set(unlinked.map((u) => u.other))
  const missingOther = Object.entries(missing).flatMap(([t, rows]) =>
    rows
      .filter((r) => !belongs(t, r) && !unlinkedClean.has(r))
      .map((r) => ({ table: t, source_id: r.source_id }))
  )
  const extraRows = Object.entries(extra).flatMap(([t, rows]) =>
    rows.filter((r) => !unlinkedOther.has(r)).map((r) => ({ table: t, source_id: r.source_id }))
  )
  const loaded = {
    "shopify orders": [countOf(badRows, "orders", "shopify"), truth.onlineOrders],
    "lightspeed sales": [countOf(badRows, "orders", "lightspeed"), truth.posSales],
    "stocky purchase_orders": [countOf(badRows, "purchase_orders", "stocky"), truth.purchaseOrders],
    "stocky purchase_order_lines": [
      countOf(badRows, "purchase_order_lines", "stocky"),
      truth.purchaseOrderLines
    ],
    "shopify customers": [
      countOf(badRows, "customers", "shopify"),
      truth.customers - truth.malformedCustomers
    ],
    "shopify products": [countOf(badRows, "products", "shopify"), truth.products - truth.malformedProducts],
    "stocky suppliers": [countOf(badRows, "suppliers", "stocky"), truth.suppliers]
  } as Record<string, [number, number]>
  const truthOk = Object.values(loaded).every(([got, want]) => got === want)
  const failedStreams = [...clean.lines, ...bad.lines].filter((l: StreamLine) => l.status !== "succeeded")

  // The operator path after the fix, through the built kura-sync against the bad run's warehouse
  // (its sandbox now the fixed source: the same seed and data, nothing malformed). First
  // `dead-letters list --json`: its counts per stream must equal what was injected.
  const operatorEnv = syncEnv(bad.dir, {
    scale: quick ? 100 : 600,
    historyDays: quick ? 10 : 30,
    anchor: "2026-08-25",
    secretsOf: CHECK
  })
  const operatorSeconds: Array<number> = []
  const kuraSync = async (label: string, ...args: Array<string>) => {
    const started = Date.now()
    const run = spawnCaptured(`kura-sync-${label}`, ["--import", SANDBOX_HOOK, SYNC_RUNNER, ...args], {
      cwd: bad.dir,
      env: operatorEnv
    })
    const exit = await run.exited
    operatorSeconds.push((Date.now() - started) / 1000)
    return { code: exit.code, output: run.output(), stdout: run.stdout() }
  }
  const listed = await kuraSync("list", "dead-letters", "list", "--json")
  // Shopify's own Analytics (the fixed source's ShopifyQL counts every order) against the
  // warehouse, before the replay: exactly the dead-lettered orders are missing, on their days.
  const tieOutRange = ["--since", quick ? "2026-08-12" : "2026-07-23", "--until", "2026-08-26"]
  const tieOutOf = async (label: string) => {
    const r = await kuraSync(label, "tie-out", ...tieOutRange, "--json")
    const [report] = jsonOf(r) as Array<{
      tied: boolean
      differingDays: number
      days: Array<{ day: string; status: string; ordersDifference: number; causes: Array<string> }>
    }>
    const differing = (report?.days ?? []).filter((d) => d.status !== "tied")
    return {
      code: r.code,
      days: report?.days.length ?? 0,
      differingDays: differing.length,
      missingOrders: differing.reduce((n, d) => n + d.ordersDifference, 0),
      namedDeadLetters: differing.filter((d) => d.causes.some((c) => c.includes("_kura_dead_letters"))).length
    }
  }
  const tieBefore = await tieOutOf("tie-out-before")
  const listing = jsonOf(listed) as {
    pending: number
    total: number
    groups: Array<{ source: string; stream: string; reason: string; count: number }>
    letters: Array<{ id: string; key: { source: string; stream: string }; reason: string; payload: string }>
  }
  const listedCounts = INJECTED.map((inj) => {
    const groups = listing.groups.filter((g) => g.source === inj.source && g.stream === inj.stream)
    const s = perStream.find((p) => p.stream === `${inj.source}/${inj.stream}`)
    return {
      stream: `${inj.source}/${inj.stream}`,
      listed: groups.filter((g) => g.reason !== ORPHAN).reduce((n, g) => n + g.count, 0),
      orphans: groups.filter((g) => g.reason === ORPHAN).reduce((n, g) => n + g.count, 0),
      injected: s?.injected ?? -1,
      orphansInjected: s?.orphanItemsExpected ?? -1
    }
  })
  const listOk =
    listed.code === 0 &&
    listing.pending === letters.length &&
    listing.total === letters.length &&
    listedCounts.every((c) => c.listed === c.injected && c.orphans === c.orphansInjected)

  // Each record as the fixed source serves it: the stored payload with every injected value replaced
  // by the clean run's copy of the same record (its raw lake line), at the same place.
  const cleanRecords = readLakeRecords(path.join(clean.dir, "lake"))
  const records = listing.letters.filter((l) => l.reason !== ORPHAN)
  const corrections: Record<string, unknown> = {}
  const uncorrected: Array<string> = []
  for (const l of records) {
    const fixed = correct(l.key.source, l.key.stream, JSON.parse(l.payload), cleanRecords)
    if (fixed === undefined) uncorrected.push(l.id)
    else corrections[l.id] = fixed
  }
  // One record the way an operator fixes a single letter (--id + --payload-file), the rest at once.
  const [firstId, ...restIds] = Object.keys(corrections)
  const replays: Array<{ code: number | null; summary: ReplaySummaryJson }> = []
  if (firstId !== undefined) {
    const one = path.join(base, "corrected-one.json")
    writeFileSync(one, JSON.stringify(corrections[firstId]))
    const r = await kuraSync(
      "replay-one",
      "dead-letters",
      "replay",
      "--id",
      firstId,
      "--payload-file",
      one,
      "--json"
    )
    replays.push({ code: r.code, summary: jsonOf(r) as ReplaySummaryJson })
  }
  if (restIds.length > 0) {
    const many = path.join(base, "corrected-rest.json")
    writeFileSync(many, JSON.stringify(Object.fromEntries(restIds.map((id) => [id, corrections[id]]))))
    const r = await kuraSync("replay-rest", "dead-letters", "replay", "--payloads-file", many, "--json")
    replays.push({ code: r.code, summary: jsonOf(r) as ReplaySummaryJson })
  }
  const tieAfter = await tieOutOf("tie-out-after")
  const outcomes = replays.flatMap((r) => r.summary.letters)
  const after = await readLetters(bad.db)
  const replay = {
    listed: listing.pending,
    corrected: Object.keys(corrections).length,
    uncorrected: uncorrected.length,
    exitCodes: replays.map((r) => r.code),
    replayed: outcomes.filter((o) => o.status === "replayed").length,
    companions: outcomes.filter((o) => o.status === "companion").length,
    failed: outcomes.filter((o) => o.status === "failed").length,
    failures: outcomes.filter((o) => o.status === "failed").slice(0, 10),
    rowsLoaded: outcomes.reduce((n, o) => n + Object.values(o.rows).reduce((a, b) => a + b, 0), 0),
    pendingAfter: after.filter((l) => l.replayedAt === null).length,
    markedOnce: after.filter((l) => l.replayedAt !== null && l.attempts === 1).length,
    seconds: operatorSeconds
  }
  const afterRows = await readTableRows(bad.db)
  const afterMissingRows = minus(cleanRows, afterRows)
  const afterExtraRows = minus(afterRows, cleanRows)
  // The replay links the rows the product letters left unlinked (Warehouse.relinkVariants): none
  // may stay so, and nothing else may differ.
  const afterUnlinked = unlinkedPairs(afterMissingRows, afterExtraRows, letterVariants)
  const afterMissing = Object.values(afterMissingRows).reduce((n, r) => n + r.length, 0)
  const afterExtra = Object.values(afterExtraRows).reduce((n, r) => n + r.length, 0)
  // The replayed rows land: the counts tie with the sandbox's truth plus the injected records.
  const afterLoaded = {
    "shopify orders": [
      countOf(afterRows, "orders", "shopify"),
      truth.onlineOrders + (truth.malformed.shopify ?? 0)
    ],
    "lightspeed sales": [
      countOf(afterRows, "orders", "lightspeed"),
      truth.posSales + (truth.malformed.lightspeed ?? 0)
    ],
    "stocky purchase_orders": [
      countOf(afterRows, "purchase_orders", "stocky"),
      truth.purchaseOrders + (truth.malformed.stocky ?? 0)
    ],
    "shopify customers": [countOf(afterRows, "customers", "shopify"), truth.customers],
    "shopify products": [countOf(afterRows, "products", "shopify"), truth.products]
  } as Record<string, [number, number]>
  const replayOk =
    listOk &&
    replay.uncorrected === 0 &&
    replay.exitCodes.every((c) => c === 0) &&
    replay.replayed === records.length &&
    replay.companions === letters.length - records.length &&
    replay.failed === 0 &&
    replay.pendingAfter === 0 &&
    replay.markedOnce === letters.length &&
    Object.values(afterLoaded).every(([got, want]) => got === want) &&
    afterMissing === 0 &&
    afterExtra === 0
  const malformedOrders = truth.malformed.shopify ?? 0
  const tieOutOk =
    tieBefore.code === 1 &&
    tieBefore.missingOrders === malformedOrders &&
    tieBefore.differingDays > 0 &&
    tieBefore.namedDeadLetters === tieBefore.differingDays &&
    tieAfter.code === 0 &&
    tieAfter.differingDays === 0 &&
    tieAfter.days === tieBefore.days

  const pass =
    lettersOk &&
    elsewhere.length === 0 &&
    cleanLetters.length === 0 &&
    missingOther.length === 0 &&
    extraRows.length === 0 &&
    missingOfLetters > 0 &&
    truthOk &&
    failedStreams.length === 0 &&
    bad.exit.code === 0 &&
    replayOk &&
    tieOutOk
  const figure =
    `kura-sync run: ${perStream.map((s) => `${s.stream} ${s.deadLettered}/${s.injected}`).join(", ")} in _kura_dead_letters ` +
    `(+ ${perStream.reduce((n, s) => n + s.orphanItems, 0)}/${truth.malformedAdjustments.items} items of those adjustments as orphans; ` +
    `reason + raw payload: ${perStream.reduce((n, s) => n + s.withRawPayload, 0)}/${perStream.reduce((n, s) => n + s.deadLettered, 0)}; ${elsewhere.length} elsewhere); ` +
    `everything else loaded: ${Object.entries(loaded)
      .map(([k, [got, want]]) => `${k} ${got}/${want}`)
      .join(
        ", "
      )}; tables = clean run minus ${missingOfLetters} rows of the letters (${missingOther.length} other missing, ${extraRows.length} extra; ${unlinkedFigure(unlinked)}); ` +
    `kura-sync dead-letters list --json: ${listedCounts.map((c) => `${c.stream} ${c.listed}/${c.injected}`).join(", ")} (+ ${listedCounts.reduce((n, c) => n + c.orphans, 0)} orphans); ` +
    `kura-sync dead-letters replay with corrected payloads (1 --id --payload-file, ${Math.max(0, replay.corrected - 1)} --payloads-file): ${replay.replayed}/${records.length} replayed + ${replay.companions} orphans with them, ${replay.failed} failed, ${replay.pendingAfter} pending, ` +
    `${Object.entries(afterLoaded)
      .map(([k, [got, want]]) => `${k} ${got}/${want}`)
      .join(
        ", "
      )}, tables then ${afterMissing + afterExtra === 0 ? "equal" : "DIFFER from"} the clean run (the ${unlinked.length} unlinked rows linked by the replay${afterUnlinked.length === 0 ? "" : `, ${afterUnlinked.length} still unlinked`})` +
    `; kura-sync tie-out (Shopify Analytics, ${tieBefore.days} days): before the replay ${tieBefore.differingDays} day(s) differ by ${tieBefore.missingOrders}/${malformedOrders} dead-lettered orders (the letters named on ${tieBefore.namedDeadLetters}), exit ${tieBefore.code}; after it ${tieAfter.differingDays} differ, exit ${tieAfter.code}` +
    (failedStreams.length === 0 ? "" : `; failed streams: ${failedStreams.map((l) => l.stream).join(", ")}`) +
    `; ${seconds.clean?.toFixed(1)} s clean + ${seconds.bad?.toFixed(1)} s bad + ${operatorSeconds.reduce((a, b) => a + b, 0).toFixed(1)} s in ${operatorSeconds.length} kura-sync operator commands (dead-letters, tie-out)`
  return {
    check: CHECK,
    pass,
    figure,
    details: {
      perStream,
      loaded,
      missingByTable: Object.fromEntries(Object.entries(missing).map(([t, r]) => [t, r.length])),
      missingOther: missingOther.slice(0, 20),
      unlinked: unlinked.map((u) => ({ table: u.table, source_id: u.source_id, variant_id: u.variant_id })),
      afterUnlinked: afterUnlinked.length,
      extraRows: extraRows.slice(0, 20),
      elsewhere: elsewhere.map((l) => ({ key: l.key, reason: l.reason, detail: l.detail.slice(0, 200) })),
      cleanLetters: cleanLetters.length,
      failedStreams,
      listedCounts,
      replay,
      afterLoaded,
      tieOut: { before: tieBefore, after: tieAfter },
      letters: letters.map((l) => ({
        key: l.key,
        sourceId: l.sourceId,
        reason: l.reason,
        detail: l.detail.slice(0, 300),
        origin: l.origin,
        payloadBytes: l.payload.length
      }))
    }
  }
})

/** "16 catalog-joined rows of the products' variants unlinked (10 inventory_movements, 6 purchase_order_lines)". */
function unlinkedFigure(unlinked: ReadonlyArray<Unlinked>): string {
  const per = new Map<string, number>()
  for (const u of unlinked) per.set(u.table, (per.get(u.table) ?? 0) + 1)
  const tables = [...per].map(([t, n]) => `${n} ${t}`).join(", ")
  return `${unlinked.length} catalog-joined rows of the products' variants unlinked${tables === "" ? "" : ` (${tables})`}`
}

/** The `stock_adjustment_id` of an adjustment item's payload (orphan letters). */
function parseStockAdjustmentId(payload: string): unknown {
  try {
    const item: unknown = JSON.parse(payload)
    return typeof item === "object" && item !== null ? Reflect.get(item, "stock_adjustment_id") : undefined
  } catch {
    return undefined
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text)
    return true
  } catch {
    return false
  }
}

/** What `kura-sync dead-letters replay --json` prints (the fields this check reads). */
interface ReplaySummaryJson {
  readonly letters: Array<{ id: string; status: string; rows: Record<string, number>; error?: string }>
}

/**
 * The JSON document a `--json` command prints: its whole stdout, as a script piping it into `jq`
 * would read it (log lines go to stderr).
 */
function jsonOf(run: { readonly output: string; readonly stdout: string }): unknown {
  try {
    return JSON.parse(run.stdout)
  } catch (e) {
    throw new Error(`stdout is not one JSON document (${String(e)}):\n${run.output.slice(-3000)}`)
  }
}

/** Every record line of a run's raw lake, per `source/stream`. */
function readLakeRecords(lake: string): Map<string, Array<unknown>> {
  const out = new Map<string, Array<unknown>>()
  const walk = (dir: string): Array<string> =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() ? walk(path.join(dir, e.name)) : [path.join(dir, e.name)]
    )
  for (const file of walk(lake)) {
    const source = /source=([^/]+)/.exec(file)?.[1]
    const stream = /stream=([^/]+)/.exec(file)?.[1]
    if (source === undefined || stream === undefined || !file.endsWith(".ndjson.gz")) continue
    const list = out.get(`${source}/${stream}`) ?? []
    for (const line of gunzipSync(readFileSync(file)).toString("utf8").split("\n"))
      if (line.trim() !== "") list.push(JSON.parse(line))
    out.set(`${source}/${stream}`, list)
  }
  return out
}

/**
 * The stored payload with each injected value replaced by the clean copy's value at the same
 * place; undefined when the clean copy is missing or lacks that place (the check then fails).
 */
function correct(
  source: string,
  stream: string,
  payload: unknown,
  clean: Map<string, Array<unknown>>
): unknown {
  const idOf = (r: unknown): string | undefined => {
    const v = get(r, ["accountReference"]) ?? get(r, ["id"])
    return v === undefined || v === null ? undefined : String(v)
  }
  // A Stocky adjustment's lake line carries the adjustment and its items.
  const records = (clean.get(`${source}/${stream}`) ?? []).map((r) => get(r, ["adjustment"]) ?? r)
  const id = idOf(payload)
  const twin = records.find((r) => idOf(r) === id)
  if (id === undefined || twin === undefined) return undefined
  let ok = true
  let replaced = 0
  const fix = (v: unknown, at: Array<string | number>): unknown => {
    if (typeof v === "string" && BAD_VALUES.has(v)) {
      const good = get(twin, at)
      if (good === undefined || (typeof good === "string" && BAD_VALUES.has(good))) ok = false
      replaced++
      return good
    }
    if (Array.isArray(v)) return v.map((x, i) => fix(x, [...at, i]))
    if (typeof v === "object" && v !== null)
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, fix(x, [...at, k])]))
    return v
  }
  const fixed = fix(payload, [])
  return ok && replaced > 0 ? fixed : undefined
}

function get(v: unknown, at: ReadonlyArray<string | number>): unknown {
  let cur = v
  for (const k of at) {
    if (typeof cur !== "object" || cur === null) return undefined
    cur = Reflect.get(cur, k)
  }
  return cur
}
