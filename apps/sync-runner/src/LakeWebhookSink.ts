/**
 * Lands every accepted webhook delivery in the raw lake (@kura/warehouse RawLake, on `file:<dir>`
 * or `gs://bucket/prefix`) as its own gzip NDJSON batch, under
 * `source=shopify/account=<shop>/stream=webhook.<topic>/dt=<day>/`. The exact signed body is kept,
 * so deliveries can be re-modelled later without Shopify.
 */
import {
  makeRedaction,
  ObjectStore,
  RawLake,
  type Redaction,
  type RedactionOptions,
  Warehouse
} from "@kura/warehouse"
import { Effect, Layer, Option, Stream } from "effect"
import { makeLateArrivalGuard } from "./RedactReapply.js"
import { type WebhookDelivery, WebhookSink, WebhookSinkError } from "./WebhookSink.js"
import { applyCompliance } from "./webhooks/ComplianceWebhooks.js"
import { envelopeLine, webhookStreamName } from "./webhooks/envelope.js"

export { envelopeLine, webhookStreamName }

/** Options of the lake sink. */
export interface LakeWebhookSinkOptions {
  /**
   * Holds this sink to the redaction ledger as the batched sink is held: an erased shop's
   * deliveries are dropped (a `shop/redact` again erases it again), a delivery naming a customer
   * erased before it landed is erased in the file it landed in, and the compliance topics are
   * carried out. Without it the sink only writes the lake.
   */
  readonly redaction?: Redaction["Service"]
  /** How long the guard reuses its copy of the ledger while the ledger's marker is unchanged. */
  readonly lateArrivalLedgerTtlMs?: number
}

/** The lake batch id of one delivery. */
const batchIdOf = (d: WebhookDelivery) =>
  // Time first so batches list in arrival order; the event id makes a redelivery land as its own batch.
  `${d.receivedAt}-${d.eventId.replace(/[^A-Za-z0-9._-]+/g, "_")}`.slice(0, 200)

/** A sink over a RawLake. */
export const makeLakeWebhookSink = (lake: RawLake["Service"], options: LakeWebhookSinkOptions = {}) => {
  const guard = makeLateArrivalGuard(options.redaction, options.lateArrivalLedgerTtlMs)
  const ledgerError = (e: { readonly message: string }) =>
    new WebhookSinkError({ reason: "Warehouse", message: e.message, cause: e })
  const write = (d: WebhookDelivery, batchId: string) =>
    lake
      .writeBatch({
        key: { source: "shopify", account: d.shop, stream: webhookStreamName(d.topic) },
        batchId,
        dt: new Date(d.receivedAt).toISOString().slice(0, 10),
        lines: Stream.make(envelopeLine(d))
      })
      .pipe(Effect.mapError((e) => new WebhookSinkError({ reason: "Lake", message: e.message, cause: e })))

  return WebhookSink.of({
    land: (d) => {
      const batchId = batchIdOf(d)
      const redaction = options.redaction
      if (redaction === undefined) return Effect.asVoid(write(d, batchId))
      return guard
        .landUnlessErased(
          d.shop,
          [d],
          () =>
            Effect.gen(function* () {
              const object = yield* write(d, batchId)
              // A failure here fails the landing, which is retried: the same batch id rewrites the same file.
              yield* guard(d.shop, batchId, [d], [object.path]).pipe(Effect.mapError(ledgerError))
              yield* applyCompliance(Option.some(redaction), d.shop, [d]).pipe(Effect.mapError(ledgerError))
            }),
          undefined
        )
        .pipe(Effect.mapError((e) => (e._tag === "RedactionError" ? ledgerError(e) : e)))
    }
  })
}

/**
 * The webhook sink over the RawLake in context (see `WarehouseConfig.layerFromSettings`). With a
 * Warehouse and an ObjectStore in context too (as `kura-sync serve` has), it is held to the
 * redaction ledger (`LakeWebhookSinkOptions.redaction`).
 */
export const layerLakeWebhookSink = (
  options: { readonly redactionOptions?: RedactionOptions } = {}
): Layer.Layer<WebhookSink, never, RawLake> =>
  Layer.effect(
    WebhookSink,
    Effect.gen(function* () {
      const lake = yield* RawLake
      const warehouse = yield* Effect.serviceOption(Warehouse)
      const store = yield* Effect.serviceOption(ObjectStore)
      return makeLakeWebhookSink(
        lake,
        Option.isSome(warehouse) && Option.isSome(store)
          ? { redaction: makeRedaction(warehouse.value, store.value, options.redactionOptions) }
          : {}
      )
    })
  )
