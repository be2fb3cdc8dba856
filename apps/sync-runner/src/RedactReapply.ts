/**
 * Re-applies the `_kura_redactions` ledger after a sync pass, so a customer whose records a pass
 * brought back (a re-read window, a backfill, a replay) is redacted again before the next one.
 * See docs/privacy.md ("When a sync brings the customer back").
 */
import { makeRedaction, ObjectStore, type RedactionOutcome, Warehouse } from "@kura/warehouse"
import { Effect } from "effect"

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
