/**
 * Re-applies the `_kura_redactions` ledger after a sync pass, so a customer whose records a pass
 * brought back (a re-read window, a backfill, a replay) is redacted again before the next one.
 * See docs/privacy.md ("When a sync brings the customer back").
 */
import {
  erasedAccounts,
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

/**
 * `reapplyRedactions` when the ledger, as `ledger` (a `makeLedgerCache`, current as of its marker)
 * holds it, has a customer redaction to re-apply; otherwise nothing: not the ledger read
 * `reapply` starts with, which every pass's close (three at once for a trigger per source) paid
 * on the one warehouse connection of a Kura no customer had asked to be erased from. A request
 * recorded since, by this process or another, changes the marker, so the copy is read again
 * first; an unreadable copy re-applies as before.
 */
export const reapplyRedactionsWhenAny = (
  ledger: LedgerCache
): Effect.Effect<ReadonlyArray<RedactionOutcome>, never, Warehouse | ObjectStore> =>
  Effect.gen(function* () {
    const entries = yield* Effect.result(ledger.entries)
    // The entries `Redaction.reapply` works on: customer requests carried out or tried.
    if (
      entries._tag === "Success" &&
      !entries.success.some((e) => e.kind === "customer" && e.status !== "recorded")
    )
      return []
    return yield* reapplyRedactions
  })

/**
 * How long a copy of the ledger is reused at most, even while the ledger's marker is unchanged (a
 * request recorded by a Kura that wrote no marker is seen within this time).
 */
export const LATE_ARRIVAL_LEDGER_TTL_MS = 10_000

/**
 * A copy of the `_kura_redactions` ledger that is read again whenever the ledger's marker
 * (`Redaction.ledgerVersion`, one small object read) has changed since the copy was read, or the
 * copy is older than `ttlMs`: a request recorded by another process is seen at its next use, with
 * no wait on the requester's side. The marker is read before the ledger, so a copy is never older
 * than the token it was read under.
 */
export const makeLedgerCache = (redaction: Redaction["Service"], ttlMs = LATE_ARRIVAL_LEDGER_TTL_MS) => {
  let cached:
    | {
        readonly at: number
        readonly version: string | undefined
        readonly entries: ReadonlyArray<RedactionEntry>
      }
    | undefined
  return {
    /** The ledger, current as of the marker read now. */
    entries: Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis
      const version = yield* redaction.ledgerVersion
      if (cached === undefined || cached.version !== version || now - cached.at >= ttlMs)
        cached = { at: now, version, entries: yield* redaction.list }
      return cached.entries
    }),
    /** Forgets the copy (this process just recorded a request). */
    invalidate: () => {
      cached = undefined
    }
  }
}

/** A copy of the redaction ledger kept current by its marker (`makeLedgerCache`). */
export type LedgerCache = ReturnType<typeof makeLedgerCache>

/** The line an operator reads when an erased account is configured: what happened and what to do. */
export const erasedReason = (e: RedactionEntry): string =>
  `${e.source} account ${e.sourceAccount} was erased (${e.trigger === "webhook" ? "Shopify shop/redact" : "kura-sync redact shop"}, requested ${new Date(e.requestedAt).toISOString()}, ${e.status}): Kura no longer syncs it or lands its webhooks. Remove it from the configuration; if the merchant has reinstalled the app, lift the erasure with: kura-sync redact reinstate --source ${e.source} --account ${e.sourceAccount} --yes`

/** The ledger's erased accounts as the runner's gate reads them (`StreamRunnerOptions.erasure`). */
export const erasedOf = (entries: ReadonlyArray<RedactionEntry>) =>
  erasedAccounts(entries).map((e) => ({
    source: e.source,
    account: e.sourceAccount,
    reason: erasedReason(e)
  }))

/**
 * Erases again accounts erased while a pass ran (its runs may have landed rows after the
 * erasure): `redactShop` once more, logged. Never fails (logs; the next pass's gate refuses the
 * account anyway, and `kura-sync redact shop` repeats the erasure by hand).
 */
export const eraseAgain = (
  redaction: Redaction["Service"],
  accounts: ReadonlyArray<{ readonly source: string; readonly account: string }>
): Effect.Effect<void> =>
  Effect.forEach(
    accounts,
    (a) =>
      redaction.redactShop({ source: a.source, sourceAccount: a.account, confirm: true }).pipe(
        Effect.flatMap((o) =>
          Effect.logWarning(
            `${a.source} account ${a.account} was erased while a pass synced it: erased again (${o.rowsChanged} row(s), ${o.filesChanged} lake file(s))`
          )
        ),
        Effect.catch((e) =>
          Effect.logError(
            `${a.source} account ${a.account} was erased while a pass synced it, and erasing it again failed: ${e.message}; run kura-sync redact shop --source ${a.source} --account ${a.account} --yes`
          )
        )
      ),
    { discard: true }
  )

/**
 * The webhook landing path's guard against late arrivals: after a batch of one shop has landed,
 * the customer entries of the ledger whose person the batch names are applied to that batch
 * (`Redaction.reapplyLanded`). This covers a delivery accepted before a `customers/redact` but
 * landed after it (Shopify's retries, a write-ahead-log replay after downtime), whatever its
 * age. The ledger copy is checked against the ledger's marker at each batch (one small object
 * read; the ledger itself is read again only when a request was recorded since, by any process,
 * or every {@link LATE_ARRIVAL_LEDGER_TTL_MS}), so a request recorded elsewhere is seen by the
 * next batch checked: a batch checked before the request's marker was written had landed before
 * the request's own pass reads, which erases it. A batch that names nobody erased costs no query.
 * A failure fails the landing, which is retried: an accepted delivery never stays unredacted.
 * `lakePaths`: the files of a landing that writes the lake only (no `_kura_raw` row names them).
 * `erased(shop)`: the shop's erasure entry (`shop/redact`) if it was erased and not reinstated.
 */
export const makeLateArrivalGuard = (
  redaction: Redaction["Service"] | undefined,
  ttlMs = LATE_ARRIVAL_LEDGER_TTL_MS
) => {
  const ledger = redaction === undefined ? undefined : makeLedgerCache(redaction, ttlMs)
  const check = (
    shop: string,
    batchId: string,
    deliveries: ReadonlyArray<WebhookDelivery>,
    lakePaths?: ReadonlyArray<string>
  ): Effect.Effect<ReadonlyArray<RedactionOutcome>, RedactionError> =>
    Effect.gen(function* () {
      if (redaction === undefined || ledger === undefined) return []
      const entries = yield* ledger.entries
      const outs = yield* redaction.reapplyLanded({
        source: "shopify",
        sourceAccount: shop,
        batchId,
        texts: deliveries.map((d) => d.rawBody),
        entries,
        ...(lakePaths === undefined ? {} : { lakePaths })
      })
      // This batch may add entries (its own compliance requests, applied after it lands).
      if (deliveries.some((d) => COMPLIANCE_TOPICS.has(d.topic))) ledger.invalidate()
      for (const o of outs)
        if (o.rowsChanged > 0 || o.filesChanged > 0)
          yield* Effect.logInfo(
            `redaction ${o.id} applied to webhook batch ${batchId}: ${o.rowsChanged} row(s) and ${o.filesChanged} lake file(s) named the customer after the request`
          )
      return outs
    })
  const erased = (shop: string): Effect.Effect<RedactionEntry | undefined, RedactionError> =>
    ledger === undefined
      ? Effect.succeed(undefined)
      : Effect.map(ledger.entries, (entries) =>
          erasedAccounts(entries).find((e) => e.source === "shopify" && e.sourceAccount === shop)
        )
  /**
   * Lands one shop's deliveries through `land` unless the shop is erased: then they are dropped
   * with a warning (Shopify may still retry a delivery accepted before the uninstall, or the
   * write-ahead log replay one), except a `shop/redact` again, which lands and erases it again
   * (`nothing` when none is left). A shop erased by another process while `land` ran (its check
   * read the ledger before) has what `land` wrote erased again.
   */
  const landUnlessErased = <A, E>(
    shop: string,
    all: ReadonlyArray<WebhookDelivery>,
    land: (deliveries: ReadonlyArray<WebhookDelivery>) => Effect.Effect<A, E>,
    nothing: A
  ): Effect.Effect<A, E | RedactionError> =>
    Effect.gen(function* () {
      const before = yield* erased(shop)
      const deliveries = before === undefined ? all : all.filter((d) => d.topic === "shop/redact")
      if (before !== undefined && deliveries.length < all.length)
        yield* Effect.logWarning(
          `webhooks: ${all.length - deliveries.length} delivery(ies) of ${shop} dropped, not landed: ${erasedReason(before)}`
        )
      if (deliveries.length === 0) return nothing
      const landed = yield* land(deliveries)
      if (
        before === undefined &&
        redaction !== undefined &&
        !deliveries.some((d) => d.topic === "shop/redact") &&
        (yield* erased(shop)) !== undefined
      )
        yield* eraseAgain(redaction, [{ source: "shopify", account: shop }])
      return landed
    })
  return Object.assign(check, { erased, landUnlessErased })
}
