/**
 * Erasures stay erased after a backfill: a backfill re-reads history, so it lands the records of
 * customers erased earlier (`kura-sync redact customer`, `customers/redact`) again. The ledger is
 * re-applied when the backfill ends (docs/privacy.md, "When a sync brings the customer back").
 * An account erased whole (`shop/redact`, `kura-sync redact shop`) is not loaded again at all.
 */
import { erasedAccounts, makeRedaction, ObjectStore, readLedger, Warehouse } from "@kura/warehouse"
import { Effect, Exit } from "effect"
import { BackfillError } from "./BackfillError.js"
import type { ProgressOutput } from "./Progress.js"

/**
 * Re-applies the `_kura_redactions` ledger over the warehouse and lake in context and says what it
 * erased again. It never fails the backfill (the data is loaded and tied): a failure is printed
 * with the command that retries it. With no customer redaction in the ledger it is one read.
 */
export const reapplyRedactions = (out: ProgressOutput): Effect.Effect<void, never, Warehouse | ObjectStore> =>
  Effect.gen(function* () {
    const outcomes = yield* makeRedaction(yield* Warehouse, yield* ObjectStore).reapply()
    for (const o of outcomes)
      if (o.rowsChanged > 0 || o.filesChanged > 0)
        out.write(
          `redaction ${o.id} re-applied: ${o.rowsChanged} row(s) and ${o.filesChanged} lake file(s) held the customer again\n`
        )
  }).pipe(
    Effect.catch((e) =>
      Effect.sync(() =>
        out.write(
          `re-applying redactions failed (${e.message}); the loaded data is kept: run \`kura-sync redact reapply\`\n`
        )
      )
    ),
    Effect.withSpan("kura.backfill.redactions")
  )

/**
 * Erases `account` again when the ledger now says it was erased (`shop/redact` while the backfill
 * ran): each window checks the ledger before it starts, but one already loading when the
 * erasure was recorded may have landed its records after it. Erasing an account is idempotent,
 * so a backfill refused at its start (nothing landed) changes nothing here. Never fails: a
 * failure is printed with the command that retries it.
 */
export const eraseAgainIfErased = (
  source: string,
  account: string,
  out: ProgressOutput
): Effect.Effect<void, never, Warehouse | ObjectStore> =>
  Effect.gen(function* () {
    const warehouse = yield* Warehouse
    const ledger = yield* readLedger(warehouse)
    if (!erasedAccounts(ledger).some((e) => e.source === source && e.sourceAccount === account)) return
    const o = yield* makeRedaction(warehouse, yield* ObjectStore).redactShop({
      source,
      sourceAccount: account,
      confirm: true
    })
    if (o.rowsChanged > 0 || o.filesChanged > 0)
      out.write(
        `${source} account ${account} was erased while the backfill ran: erased again (${o.rowsChanged} row(s), ${o.filesChanged} lake file(s))\n`
      )
  }).pipe(
    Effect.catch((e) =>
      Effect.sync(() =>
        out.write(
          `${source} account ${account} may have been erased while the backfill ran, and erasing it again failed (${e.message}): run \`kura-sync redact shop --source ${source} --account ${account} --yes\`\n`
        )
      )
    ),
    Effect.withSpan("kura.backfill.erase-again")
  )

/**
 * After a backfill that loaded something: a failed one too (its finished windows are loaded), not
 * a dry run (nothing loaded) and not an interrupted one (Ctrl-C must stop at once; the next run
 * or `kura-sync redact reapply` does it). An account erased meanwhile is erased again first.
 */
export const reapplyAfter = <E>(
  exit: Exit.Exit<{ readonly dryRun: boolean }, E>,
  out: ProgressOutput,
  erasable: { readonly source: string; readonly account: string }
): Effect.Effect<void, never, Warehouse | ObjectStore> =>
  Exit.hasInterrupts(exit) || (Exit.isSuccess(exit) && exit.value.dryRun)
    ? Effect.void
    : Effect.andThen(eraseAgainIfErased(erasable.source, erasable.account, out), reapplyRedactions(out))

/**
 * Refuses to backfill an account erased by `shop/redact` (or `kura-sync redact shop`) and not
 * reinstated: loading its history would collect again what the merchant asked to erase. The
 * ledger lives in the warehouse, so this holds for every process and after restarts.
 */
export const refuseErased = (
  warehouse: Warehouse["Service"],
  source: string,
  account: string
): Effect.Effect<void, BackfillError> =>
  Effect.gen(function* () {
    const ledger = yield* readLedger(warehouse).pipe(
      Effect.mapError(
        (e) =>
          new BackfillError({
            reason: "Failed",
            message: `cannot read the erasure ledger (_kura_redactions), so nothing is loaded: ${e.message}`
          })
      )
    )
    const erased = erasedAccounts(ledger).find((e) => e.source === source && e.sourceAccount === account)
    if (erased === undefined) return
    return yield* new BackfillError({
      reason: "Erased",
      message: `${source} account ${account} was erased (${erased.trigger === "webhook" ? "Shopify shop/redact" : "kura-sync redact shop"}, requested ${new Date(erased.requestedAt).toISOString()}, ${erased.status}): kura-backfill does not load it again. Remove it from the configuration; if the merchant has reinstalled the app, lift the erasure with: kura-sync redact reinstate --source ${source} --account ${account} --yes`
    })
  })
