/**
 * Lands a batch of webhook deliveries: per shop ONE raw-lake object (stream `webhooks`, one
 * envelope line per delivery with the exact signed body), ONE `_kura_raw` load (one row per event,
 * keyed by event id, stream `webhook.<topic>`) and ONE canonical upsert per table. Orders go
 * through the REST order mapper, refunds through the refund mapper, inventory levels through the
 * inventory snapshot mapper, and `orders/delete` becomes a soft delete. Upserts are guarded by
 * `updated_at`, so whichever of a webhook and the scheduled sync saw the newer order wins, in
 * either order. Records that do not decode or map are dead-lettered, never dropped.
 */
import type { DeadLetter } from "@kura/core"
import { WebhookInventoryLevel } from "@kura/shopify-client"
import {
  type CanonicalRows,
  type CanonicalTableName,
  type InventoryCatalog,
  type MapContext,
  makeRedaction,
  makeShopifyInventoryLevelWebhookMapper,
  makeShopifyRefundWebhookMapper,
  makeShopifyRestOrderMapper,
  mergeRows,
  ObjectStore,
  RawLake,
  type Redaction,
  type RedactionOptions,
  RestOrder,
  RestRefundPayload,
  type RowKey,
  Warehouse
} from "@kura/warehouse"
import { Clock, Effect, Layer, Option, Result, Schedule, Schema, Stream } from "effect"
import { makeLateArrivalGuard } from "../RedactReapply.js"
import { loadCatalog } from "../sources/ShopifyStreams.js"
import { type WebhookDelivery, WebhookSinkError } from "../WebhookSink.js"
import { applyCompliance, COMPLIANCE_TOPICS } from "./ComplianceWebhooks.js"
import { dedupKey } from "./DedupSet.js"
import { envelopeLine, webhookStreamName } from "./envelope.js"
import { ShopContext, type ShopFacts } from "./ShopContext.js"
import { type LandedBatch, type SeenEvent, WebhookBatchSink } from "./WebhookBatchSink.js"

/** The lake stream every webhook batch of a shop goes to. */
export const WEBHOOK_LAKE_STREAM = "webhooks"

const Envelope = Schema.Struct({
  topic: Schema.String,
  shop: Schema.String,
  event_id: Schema.String,
  webhook_id: Schema.String,
  api_version: Schema.String,
  triggered_at: Schema.NullOr(Schema.String),
  received_at: Schema.String,
  body: Schema.String
})
const decodeEnvelope = Schema.decodeUnknownOption(Schema.fromJsonString(Envelope))

/** Reads an envelope line back into a delivery (None for a line that is not one). */
export const deliveryFromEnvelope = (line: string): Option.Option<WebhookDelivery> =>
  Option.flatMap(decodeEnvelope(line), (e) => {
    const payload = parseExact(e.body)
    const receivedAt = Date.parse(e.received_at)
    if (payload === undefined || Number.isNaN(receivedAt)) return Option.none()
    return Option.some({
      envelope: line,
      topic: e.topic,
      shop: e.shop,
      eventId: e.event_id,
      webhookId: e.webhook_id,
      apiVersion: e.api_version,
      triggeredAt: e.triggered_at ?? undefined,
      receivedAt,
      payload,
      rawBody: e.body
    })
  })

const LONG_DIGITS = /\d{16}/

/**
 * Parses JSON keeping integers beyond 2^53 as their exact text (Shopify ids can exceed it; the
 * mappers accept string ids). `undefined` when the text is not JSON.
 */
export const parseExact = (text: string): unknown => {
  try {
    // The reviver is slow; only numbers of 16+ digits can be unsafe integers.
    if (!LONG_DIGITS.test(text)) return JSON.parse(text)
    return JSON.parse(text, (_key: string, value: unknown, context?: { readonly source?: string }) =>
      typeof value === "number" && Number.isInteger(value) && !Number.isSafeInteger(value) && context?.source
        ? context.source
        : value
    )
  } catch {
    return undefined
  }
}

const UpdatedAt = Schema.Struct({ updated_at: Schema.optional(Schema.NullOr(Schema.String)) })
const decodeUpdatedAt = Schema.decodeUnknownOption(UpdatedAt)
const OrderDeleted = Schema.Struct({ id: Schema.Union([Schema.String, Schema.Number]) })
const decodeOrderDeleted = Schema.decodeUnknownResult(OrderDeleted)
const decodeInventoryLevel = Schema.decodeUnknownResult(WebhookInventoryLevel)
const decodeOrder = Schema.decodeUnknownResult(RestOrder)
const decodeRefund = Schema.decodeUnknownResult(RestRefundPayload)

/** The mappers of one batch of one shop. */
const mappersFor = (facts: ShopFacts, catalog: InventoryCatalog | undefined) => ({
  order: makeShopifyRestOrderMapper({ locationOf: () => facts.onlineLocationId }),
  refund: makeShopifyRefundWebhookMapper({
    currency: facts.currency,
    locationOf: () => facts.onlineLocationId
  }),
  inventory: makeShopifyInventoryLevelWebhookMapper(catalog)
})

const IdOnly = Schema.Struct({ id: Schema.Union([Schema.String, Schema.Number]) })
const idOfPayload = (payload: unknown): string | null =>
  Option.match(Schema.decodeUnknownOption(IdOnly)(payload), {
    onNone: () => null,
    onSome: (r) => String(r.id)
  })

const yieldToIo = Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))

/** Records handled between two turns of the event loop while a batch is prepared. */
const YIELD_EVERY = 250

/**
 * `Array.map` that lets the event loop turn every `YIELD_EVERY` records: a second's batch is
 * thousands of records, and its envelopes, exact re-parses and `updated_at` decodes, done in one
 * go, held the intake's answers for tens of ms.
 */
const mapYielding = <A, B>(items: ReadonlyArray<A>, f: (a: A, i: number) => B) =>
  Effect.gen(function* () {
    const out: Array<B> = []
    for (const [i, item] of items.entries()) {
      if (i > 0 && i % YIELD_EVERY === 0) yield* yieldToIo
      out.push(f(item, i))
    }
    return out
  })

const sinkError = (reason: "Lake" | "Warehouse") => (e: { readonly message: string }) =>
  new WebhookSinkError({ reason, message: e.message, cause: e })

interface Mapped {
  rows: Array<CanonicalRows>
  deletions: Array<{ readonly key: RowKey; readonly deletedAt: string }>
  letters: Array<DeadLetter>
}

/** Options of the warehouse sink. */
export interface WarehouseWebhookSinkOptions {
  /** How long the variant catalog (for inventory webhooks) is reused before re-reading (default 60 s). */
  readonly catalogTtlMs?: number
  /** Retries of a failed shop-facts lookup before the batch's canonical step is dead-lettered (default 2). */
  readonly factsRetries?: number
  /**
   * Carries out the compliance topics (`customers/redact`, `shop/redact`,
   * `customers/data_request`) after their batch is landed; without it they are only logged.
   */
  readonly redaction?: Redaction["Service"]
  /**
   * How long the late-arrival guard reuses its copy of the ledger at most while the ledger's
   * marker is unchanged (default `LATE_ARRIVAL_LEDGER_TTL_MS`; a new request changes the marker,
   * which the guard checks at every batch).
   */
  readonly lateArrivalLedgerTtlMs?: number
}

/** Builds the sink over a warehouse, a lake and the shops' facts. */
export const makeWarehouseWebhookSink = (
  warehouse: Warehouse["Service"],
  lake: RawLake["Service"],
  shops: ShopContext["Service"],
  options: WarehouseWebhookSinkOptions = {}
) => {
  const catalogs = new Map<string, { readonly catalog: InventoryCatalog; readonly at: number }>()
  const catalogOf = (shop: string, now: number) =>
    Effect.gen(function* () {
      const hit = catalogs.get(shop)
      if (hit !== undefined && now - hit.at < (options.catalogTtlMs ?? 60_000)) return hit.catalog
      const catalog = yield* loadCatalog({ warehouse, lake }, shop)
      catalogs.set(shop, { catalog, at: now })
      return catalog
    })

  /** Decodes and maps one delivery into `out` (sync: this runs for every record of every batch). */
  const mapOne = (
    d: WebhookDelivery,
    payload: unknown,
    mappers: ReturnType<typeof mappersFor>,
    ctx: MapContext,
    out: Mapped,
    origin: string,
    now: number
  ): void => {
    const letter = (reason: string, detail: string): DeadLetter => ({
      key: { source: "shopify", account: d.shop, stream: webhookStreamName(d.topic) },
      sourceId: idOfPayload(payload),
      payload: d.rawBody,
      reason,
      detail: `${d.topic} event ${d.eventId}: ${detail}`,
      origin,
      at: now
    })
    const guard = <A>(decoded: Result.Result<A, { readonly message: string }>, map: (a: A) => void) => {
      if (Result.isFailure(decoded)) {
        out.letters.push(letter("decode", decoded.failure.message))
        return
      }
      try {
        map(decoded.success)
      } catch (e) {
        out.letters.push(letter("map", e instanceof Error ? e.message : String(e)))
      }
    }
    switch (d.topic) {
      case "orders/create":
      case "orders/updated":
        guard(decodeOrder(payload), (o) => void out.rows.push(mappers.order(o, ctx)))
        return
      case "refunds/create":
        guard(decodeRefund(payload), (r) => void out.rows.push(mappers.refund(r, ctx)))
        return
      case "inventory_levels/update":
        guard(decodeInventoryLevel(payload), (l) => void out.rows.push(mappers.inventory(l, ctx)))
        return
      case "orders/delete":
        guard(decodeOrderDeleted(payload), (p) =>
          out.deletions.push({
            key: { source: "shopify", source_account: d.shop, source_id: String(p.id) },
            deletedAt: new Date(
              d.triggeredAt !== undefined && !Number.isNaN(Date.parse(d.triggeredAt))
                ? Date.parse(d.triggeredAt)
                : d.receivedAt
            ).toISOString()
          })
        )
        return
      default:
        // Other topics are kept in the lake and `_kura_raw` only.
        return
    }
  }

  const compliance = (shop: string, deliveries: ReadonlyArray<WebhookDelivery>) =>
    applyCompliance(Option.fromNullishOr(options.redaction), shop, deliveries).pipe(
      Effect.mapError(sinkError("Warehouse"))
    )
  // Erasures already in the ledger, for a delivery that names a customer erased before it landed
  // (once the batch's rows and dead letters are written).
  const guard = makeLateArrivalGuard(options.redaction, options.lateArrivalLedgerTtlMs)
  const lateArrivals = (batchId: string, shop: string, deliveries: ReadonlyArray<WebhookDelivery>) =>
    guard(shop, batchId, deliveries).pipe(Effect.mapError(sinkError("Warehouse")))

  /** Lands one shop's part of a batch, held to the erased-shop gate (`landUnlessErased`). */
  const landShop = (batchId: string, shop: string, all: ReadonlyArray<WebhookDelivery>) =>
    guard
      .landUnlessErased(shop, all, (deliveries) => landDeliveries(batchId, shop, deliveries), {
        raw: 0,
        rows: {},
        deleted: 0,
        deadLettered: 0
      } satisfies LandedBatch)
      .pipe(Effect.mapError((e) => (e._tag === "RedactionError" ? sinkError("Warehouse")(e) : e)))

  const landDeliveries = (batchId: string, shop: string, deliveries: ReadonlyArray<WebhookDelivery>) =>
    Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis
      const lines = yield* mapYielding(deliveries, (d) => d.envelope ?? envelopeLine(d))
      const first = deliveries[0]?.receivedAt ?? now
      const object = yield* lake
        .writeBatch({
          key: { source: "shopify", account: shop, stream: WEBHOOK_LAKE_STREAM },
          batchId,
          dt: new Date(first).toISOString().slice(0, 10),
          lines: Stream.fromIterable(lines)
        })
        .pipe(Effect.mapError(sinkError("Lake")))
      // The intake's parse is exact unless the body holds a 16+ digit number.
      const payloads = yield* mapYielding(deliveries, (d) =>
        LONG_DIGITS.test(d.rawBody) ? parseExact(d.rawBody) : d.payload
      )
      const rawRows = yield* mapYielding(deliveries, (d, i) => {
        const updatedAt = Option.getOrUndefined(decodeUpdatedAt(payloads[i]))?.updated_at
        return {
          source: "shopify",
          source_account: shop,
          stream: webhookStreamName(d.topic),
          source_id: d.eventId,
          updated_at: updatedAt != null && !Number.isNaN(Date.parse(updatedAt)) ? updatedAt : null,
          payload: d.rawBody,
          fetched_at: new Date(d.receivedAt).toISOString(),
          _batch_id: batchId,
          lake_path: object.path
        }
      })
      const raw = yield* warehouse
        .load("_kura_raw", rawRows, { origin: object.path })
        .pipe(Effect.mapError(sinkError("Warehouse")))

      const known = yield* Effect.result(
        shops
          .facts(shop)
          .pipe(Effect.retry({ schedule: Schedule.exponential(100), times: options.factsRetries ?? 2 }))
      )
      if (known._tag === "Failure") {
        // Raw is landed; the canonical step waits in dead letters (replayable) rather than blocking
        // the intake, and the scheduled sync re-reads the window anyway.
        // Compliance requests need no shop facts (shop/redact comes after the app lost access).
        yield* compliance(shop, deliveries)
        const letters = deliveries.flatMap(
          (d, i): ReadonlyArray<DeadLetter> =>
            COMPLIANCE_TOPICS.has(d.topic)
              ? []
              : [
                  {
                    key: { source: "shopify", account: shop, stream: webhookStreamName(d.topic) },
                    sourceId: idOfPayload(payloads[i]),
                    payload: d.rawBody,
                    reason: "shop_facts",
                    detail: `${d.topic} event ${d.eventId}: not upserted, ${known.failure.message}; check the shop's credentials, then replay these dead letters`,
                    origin: object.path,
                    at: now
                  }
                ]
        )
        yield* warehouse.deadLetters.write(letters).pipe(Effect.mapError(sinkError("Warehouse")))
        yield* lateArrivals(batchId, shop, deliveries)
        yield* Effect.logWarning(
          `webhooks: ${letters.length} record(s) of ${shop} not upserted: ${known.failure.message}`
        )
        return { raw: raw.received, rows: {}, deleted: 0, deadLettered: letters.length } satisfies LandedBatch
      }
      const facts = known.success
      const ctx: MapContext = {
        source: "shopify",
        sourceAccount: shop,
        syncedAt: new Date(now).toISOString(),
        batchId,
        timeZoneOf: () => facts.timeZone
      }
      const out: Mapped = { rows: [], deletions: [], letters: [] }
      const catalog = deliveries.some((d) => d.topic === "inventory_levels/update")
        ? yield* catalogOf(shop, now)
        : undefined
      const mappers = mappersFor(facts, catalog)
      for (const [i, d] of deliveries.entries()) {
        mapOne(d, payloads[i], mappers, ctx, out, object.path, now)
        // Let the intake answer requests between slices of a large batch.
        if (i % YIELD_EVERY === YIELD_EVERY - 1) yield* yieldToIo
      }
      const merged = mergeRows(...out.rows)
      const rows: Record<string, number> = {}
      for (const [table, list] of Object.entries(merged) as Array<
        [CanonicalTableName, ReadonlyArray<Readonly<Record<string, unknown>>>]
      >) {
        if (list.length === 0) continue
        yield* warehouse
          .load(table, list, { origin: object.path })
          .pipe(Effect.mapError(sinkError("Warehouse")))
        rows[table] = list.length
      }
      // Deletes after upserts, so a create and a delete of one order in one batch end deleted.
      const byTime = new Map<string, Array<RowKey>>()
      for (const del of out.deletions) {
        const keys = byTime.get(del.deletedAt)
        if (keys === undefined) byTime.set(del.deletedAt, [del.key])
        else keys.push(del.key)
      }
      let deleted = 0
      for (const [at, keys] of byTime)
        deleted += yield* warehouse
          .markDeleted("orders", keys, at)
          .pipe(Effect.mapError(sinkError("Warehouse")))
      // Last, so a retried batch does not write its letters twice.
      if (out.letters.length > 0)
        yield* warehouse.deadLetters.write(out.letters).pipe(Effect.mapError(sinkError("Warehouse")))
      yield* lateArrivals(batchId, shop, deliveries)
      // After the batch's own rows, so a redaction also covers what this batch loaded.
      yield* compliance(shop, deliveries)
      return { raw: raw.received, rows, deleted, deadLettered: out.letters.length } satisfies LandedBatch
    })

  return WebhookBatchSink.of({
    landBatch: (batch) =>
      Effect.gen(function* () {
        const byShop = new Map<string, Array<WebhookDelivery>>()
        // Push, never copy: a batch is thousands of deliveries (copying made grouping quadratic).
        for (const d of batch.deliveries) {
          const list = byShop.get(d.shop)
          if (list === undefined) byShop.set(d.shop, [d])
          else list.push(d)
        }
        const total: { raw: number; rows: Record<string, number>; deleted: number; deadLettered: number } = {
          raw: 0,
          rows: {},
          deleted: 0,
          deadLettered: 0
        }
        for (const [shop, deliveries] of byShop) {
          const landed = yield* landShop(batch.batchId, shop, deliveries)
          total.raw += landed.raw
          total.deleted += landed.deleted
          total.deadLettered += landed.deadLettered
          for (const [t, n] of Object.entries(landed.rows)) total.rows[t] = (total.rows[t] ?? 0) + n
        }
        return total
      }),
    recentEvents: (sinceMs, limit) =>
      Effect.gen(function* () {
        const d = warehouse.dialect
        const rows = yield* warehouse
          .query(
            `SELECT source_account, stream, source_id, CAST(fetched_at AS ${d.type("string")}) AS fetched_at FROM ${d.table("_kura_raw")} WHERE source = 'shopify' AND stream LIKE 'webhook.%' AND fetched_at >= CAST(${d.param("since")} AS ${d.type("timestamp")}) ORDER BY fetched_at DESC LIMIT ${Math.max(0, Math.floor(limit))}`,
            { since: new Date(sinceMs).toISOString() }
          )
          .pipe(Effect.mapError(sinkError("Warehouse")))
        return rows.flatMap(
          (r): Array<SeenEvent> =>
            Option.match(Schema.decodeUnknownOption(SeenRow)(r), {
              onNone: () => [],
              onSome: (s) => [
                {
                  key: dedupKey(s.source_account, s.stream, s.source_id),
                  at: Date.parse(s.fetched_at) || sinceMs
                }
              ]
            })
        )
      })
  })
}

const SeenRow = Schema.Struct({
  source_account: Schema.String,
  stream: Schema.String,
  source_id: Schema.String,
  fetched_at: Schema.String
})

/**
 * The warehouse sink over the Warehouse, RawLake and ShopContext in context; with an ObjectStore
 * in context too (as in `serve`), it carries out the compliance topics.
 */
export const layerWarehouseWebhookSink = (
  options: WarehouseWebhookSinkOptions & { readonly redactionOptions?: RedactionOptions } = {}
): Layer.Layer<WebhookBatchSink, never, Warehouse | RawLake | ShopContext> =>
  Layer.effect(
    WebhookBatchSink,
    Effect.gen(function* () {
      const warehouse = yield* Warehouse
      const store = yield* Effect.serviceOption(ObjectStore)
      const { redactionOptions, ...sinkOptions } = options
      return makeWarehouseWebhookSink(warehouse, yield* RawLake, yield* ShopContext, {
        ...(Option.isSome(store)
          ? { redaction: makeRedaction(warehouse, store.value, redactionOptions) }
          : {}),
        ...sinkOptions
      })
    })
  )
