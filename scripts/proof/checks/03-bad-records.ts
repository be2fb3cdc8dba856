/**
 * Check 3, bad records, through the real `kura-sync run --force` (built dist, KURA_SANDBOX=1, the
 * same seed and anchor twice): once from a clean sandbox and once from one that renders
 * N records per stream with a wrongly typed field (Shopify orders: an impossible `createdAt` and a
 * `NaN` total; Lightspeed sales: a non-numeric line amount; Stocky purchase orders: a non-numeric
 * line quantity; Stocky stock adjustments: a non-integer `sequential_id`; Shopify customers: an
 * impossible `createdAt`, which the warehouse mapper refuses). Every injected record
 * must land in `_kura_dead_letters`, exactly as many as injected per source and per stream, each
 * with a reason, a detail and its raw API payload (which must hold the injected bad value); the
 * items of a dead-lettered adjustment (their own endpoint) must land there too, as orphans, never
 * dropped silently; every stream must still succeed; and
 * every other row must load: the bad run's canonical tables equal the clean run's minus exactly
 * the rows of the dead-lettered records (no extra row, no other row missing), and the loaded
 * counts equal the sandbox's ground truth, which leaves the injected records out.
 *
 * Then the replay: `Warehouse.replayDeadLetters` re-processes the pending letters after "the fix"
 * (the source corrected the records; a clean sync of the same data stands for the fixed source:
 * the handler re-loads that sync's canonical rows of the letter's record through `Warehouse.load`).
 * Afterwards no letter is pending, every one is marked replayed, and the bad run's tables equal the
 * clean run's. kura-sync itself has no replay command yet, so this part drives the warehouse API.
 */
import path from "node:path"
import { DuckDbWarehouse, type StoredDeadLetter, Warehouse } from "@kura/warehouse"
import { Effect } from "effect"
import { canonical, quick, runCheck, workDir } from "../lib.ts"
import {
  kuraSyncRun,
  readSandboxReport,
  readTableRows,
  type StreamLine,
  streamLines,
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

/** kura-sync's reason for an adjustment item whose adjustment did not load. */
const ORPHAN = "orphan"

/** `gid://shopify/Order/123` and `123` name the same record. */
const idForms = (id: string): Array<string> => {
  const tail = /\/(\d+)$/.exec(id)?.[1]
  return tail === undefined ? [id] : [id, tail]
}

/** `source|refund id` → order id, from the clean run's `refunds` (a refund's restock belongs to its order). */
const refundOrder = new Map<string, string>()

/** True when canonical row `r` of `table` is (part of) the record a letter stands for. */
const ofLetter = (letter: StoredDeadLetter, table: string, r: Record<string, unknown>): boolean => {
  const inj = INJECTED.find((i) => i.source === letter.key.source && i.stream === letter.key.stream)
  if (inj === undefined || letter.reason === ORPHAN || r.source !== letter.key.source) return false
  const ids = idForms(letter.sourceId)
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
      ...(label === "bad" ? { malformed } : {}),
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
  const missingOther = Object.entries(missing).flatMap(([t, rows]) =>
    rows.filter((r) => !belongs(t, r)).map((r) => ({ table: t, source_id: r.source_id }))
  )
  const extraRows = Object.entries(extra).flatMap(([t, rows]) =>
    rows.map((r) => ({ table: t, source_id: r.source_id }))
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
    "shopify products": [countOf(badRows, "products", "shopify"), truth.products],
    "stocky suppliers": [countOf(badRows, "suppliers", "stocky"), truth.suppliers]
  } as Record<string, [number, number]>
  const truthOk = Object.values(loaded).every(([got, want]) => got === want)
  const failedStreams = [...clean.lines, ...bad.lines].filter((l: StreamLine) => l.status !== "succeeded")

  // The replay after the fix: each pending letter's record, as the fixed source serves it, is
  // re-loaded (the clean run's canonical rows of that record) and the letter marked replayed.
  const replay = await Effect.runPromise(
    Effect.gen(function* () {
      const wh = yield* Warehouse
      const pendingBefore = (yield* wh.listDeadLetters()).length
      const reloaded: Record<string, number> = {}
      const fix = (letter: StoredDeadLetter) =>
        Effect.gen(function* () {
          // An orphan item comes back with its adjustment's letter (its movements are that record's rows).
          if (letter.reason === ORPHAN) {
            const owner = String(parseStockAdjustmentId(letter.payload))
            if (
              letters.some(
                (l) => l.reason !== ORPHAN && l.key.stream === letter.key.stream && l.sourceId === owner
              )
            )
              return
            return yield* Effect.fail(
              new Error(`orphan item ${letter.sourceId} has no dead-lettered adjustment`)
            )
          }
          const syncedAt = new Date().toISOString()
          let n = 0
          for (const [table, rows] of Object.entries(cleanRows)) {
            const mine = rows.filter((r) => ofLetter(letter, table, r))
            if (mine.length === 0) continue
            const result = yield* wh.load(
              table as Parameters<typeof wh.load>[0],
              mine.map((r) => ({ ...r, _synced_at: syncedAt, _batch_id: `replay-${letter.id}` })),
              { origin: `replay of ${letter.id}` }
            )
            // A row the load itself refused means the replay did not succeed: keep the letter pending.
            if (result.deadLettered > 0)
              return yield* Effect.fail(new Error(`${result.deadLettered} ${table} rows refused on replay`))
            reloaded[table] = (reloaded[table] ?? 0) + mine.length
            n += mine.length
          }
          if (n === 0)
            return yield* Effect.fail(new Error(`the fixed source has no record ${letter.sourceId}`))
        })
      const result = yield* wh.replayDeadLetters(undefined, fix)
      const pendingAfter = (yield* wh.listDeadLetters()).length
      const marked = (yield* wh.listDeadLetters({ includeReplayed: true })).filter(
        (l) => l.replayedAt !== null
      ).length
      return { pendingBefore, ...result, pendingAfter, marked, reloaded }
    }).pipe(Effect.provide(DuckDbWarehouse.layer({ path: bad.db, migrate: false })))
  )
  const afterRows = await readTableRows(bad.db)
  const afterMissing = Object.values(minus(cleanRows, afterRows)).reduce((n, r) => n + r.length, 0)
  const afterExtra = Object.values(minus(afterRows, cleanRows)).reduce((n, r) => n + r.length, 0)
  const replayOk =
    replay.pendingBefore === letters.length &&
    replay.replayed === letters.length &&
    replay.failed === 0 &&
    replay.pendingAfter === 0 &&
    afterMissing === 0 &&
    afterExtra === 0

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
    replayOk
  const figure =
    `kura-sync run: ${perStream.map((s) => `${s.stream} ${s.deadLettered}/${s.injected}`).join(", ")} in _kura_dead_letters ` +
    `(+ ${perStream.reduce((n, s) => n + s.orphanItems, 0)}/${truth.malformedAdjustments.items} items of those adjustments as orphans; ` +
    `reason + raw payload: ${perStream.reduce((n, s) => n + s.withRawPayload, 0)}/${perStream.reduce((n, s) => n + s.deadLettered, 0)}; ${elsewhere.length} elsewhere); ` +
    `everything else loaded: ${Object.entries(loaded)
      .map(([k, [got, want]]) => `${k} ${got}/${want}`)
      .join(
        ", "
      )}; tables = clean run minus ${missingOfLetters} rows of the letters (${missingOther.length} other missing, ${extraRows.length} extra); ` +
    `replay after the fix: ${replay.replayed}/${replay.pendingBefore} replayed, ${replay.pendingAfter} pending, tables then ${afterMissing + afterExtra === 0 ? "equal" : "DIFFER from"} the clean run` +
    (failedStreams.length === 0 ? "" : `; failed streams: ${failedStreams.map((l) => l.stream).join(", ")}`) +
    `; ${seconds.clean?.toFixed(1)} s clean + ${seconds.bad?.toFixed(1)} s bad`
  return {
    check: CHECK,
    pass,
    figure,
    details: {
      perStream,
      loaded,
      missingByTable: Object.fromEntries(Object.entries(missing).map(([t, r]) => [t, r.length])),
      missingOther: missingOther.slice(0, 20),
      extraRows: extraRows.slice(0, 20),
      elsewhere: elsewhere.map((l) => ({ key: l.key, reason: l.reason, detail: l.detail.slice(0, 200) })),
      cleanLetters: cleanLetters.length,
      failedStreams,
      replay,
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

/** The `stock_adjustment_id` of an adjustment item's payload (orphan letters). */
function parseStockAdjustmentId(payload: string): unknown {
  try {
    const item: unknown = JSON.parse(payload)
    return typeof item === "object" && item !== null ? Reflect.get(item, "stock_adjustment_id") : undefined
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
