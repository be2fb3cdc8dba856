/**
 * Re-applies the `_kura_redactions` ledger after a sync pass, so a customer whose records a pass
 * brought back (a re-read window, a backfill, a replay) is redacted again before the next one.
 * See docs/privacy.md ("When a sync brings the customer back").
 */
import {
  makeRedaction,
  ObjectStore,
  type Redaction,
  type RedactionEntry,
  type RedactionError,
  type RedactionOutcome,
  Warehouse
} from "@kura/warehouse"
import { Clock, Effect } from "effect"
import type { WebhookDelivery } from "./WebhookSink.js"
import { COMPLIANCE_TOPICS } from "./webhooks/ComplianceWebhooks.js"

/**
 * `Redaction.reapply` over the Warehouse and ObjectStore in context. With no customer redaction
 * in the ledger it costs one ledger read. It never fails the pass: a failure is logged and the
 * next pass tries again (the entry stays `failed`, which makes the next try a whole pass).
 */
export const reapplyRedactions: Effect.Effect<
  ReadonlyArray<RedactionOutcome>,
  never,
  Warehouse | ObjectStore
> = Effect.gen(function* () {
  const redaction = makeRedaction(yield* Warehouse, yield* ObjectStore)
  const outs = yield* redaction.reapply()
  for (const o of outs)
    if (o.rowsChanged > 0 || o.filesChanged > 0)
      yield* Effect.logInfo(
        `redaction ${o.id} re-applied: ${o.rowsChanged} row(s) and ${o.filesChanged} lake file(s) held the customer again`
      )
  return outs
}).pipe(
  Effect.catch((e) =>
    Effect.as(
      Effect.logWarning(`re-applying redactions failed, the next pass tries again: ${e.message}`),
      [] as ReadonlyArray<RedactionOutcome>
    )
  ),
  Effect.withSpan("kura.redactions.reapply")
)

/** How long the webhook landing path reuses its copy of the ledger before reading it again. */
export const LATE_ARRIVAL_LEDGER_TTL_MS = 10_000

/**
 * The webhook landing path's guard against late arrivals: after a batch of one shop has landed,
 * the customer entries of the ledger whose person the batch names are applied to that batch
 * (`Redaction.reapplyLanded`). This covers a delivery accepted before a `customers/redact` but
 * landed after it (Shopify's retries, a write-ahead-log replay after downtime), whatever its
 * age. The ledger is read at most every {@link LATE_ARRIVAL_LEDGER_TTL_MS} (again at once after
 * a batch holding a compliance request); a batch that names nobody erased costs no query. A
 * failure fails the landing, which is retried: an accepted delivery never stays unredacted.
 */
export const makeLateArrivalGuard = (
  redaction: Redaction["Service"] | undefined,
  ttlMs = LATE_ARRIVAL_LEDGER_TTL_MS
) => {
  let cached: { readonly at: number; readonly entries: ReadonlyArray<RedactionEntry> } | undefined
  return (
    shop: string,
    batchId: string,
    deliveries: ReadonlyArray<WebhookDelivery>
  ): Effect.Effect<ReadonlyArray<RedactionOutcome>, RedactionError> =>
    Effect.gen(function* () {
      if (redaction === undefined) return []
      const now = yield* Clock.currentTimeMillis
      if (cached === undefined || now - cached.at >= ttlMs)
        cached = { at: now, entries: yield* redaction.list }
      const outs = yield* redaction.reapplyLanded({
        source: "shopify",
        sourceAccount: shop,
        batchId,
        texts: deliveries.map((d) => d.rawBody),
        entries: cached.entries
      })
      // This batch may add entries (its own compliance requests, applied after it lands).
      if (deliveries.some((d) => COMPLIANCE_TOPICS.has(d.topic))) cached = undefined
      for (const o of outs)
        if (o.rowsChanged > 0 || o.filesChanged > 0)
          yield* Effect.logInfo(
            `redaction ${o.id} applied to webhook batch ${batchId}: ${o.rowsChanged} row(s) and ${o.filesChanged} lake file(s) named the customer after the request`
          )
      return outs
    })
}
