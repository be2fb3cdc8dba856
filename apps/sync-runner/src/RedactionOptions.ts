/**
 * The app's Redaction options. Two things the library cannot know:
 * - where an erased shop's credentials live besides `_kura_tokens` (which `Redaction.redactShop`
 *   clears itself): the file token store `<stateDir>/tokens.json` when `KURA_TOKEN_STORE=file`;
 * - whether another process may land webhooks while a redaction runs: on BigQuery, a
 *   `kura-sync redact customer` by hand (or another `serve` instance) shares the warehouse with
 *   `serve`, whose landing guard reuses its copy of the ledger for up to
 *   {@link LATE_ARRIVAL_LEDGER_TTL_MS}; the redaction waits that long (plus a second) between
 *   recording the request and reading what to erase, so a batch landed unseen by the guard is
 *   erased by the pass. On DuckDB one process holds the file (the CLI is refused while `serve` runs).
 */
import { join } from "node:path"
import { removeFileTokens } from "@kura/core"
import type { RedactionOptions } from "@kura/warehouse"
import type { AppConfig } from "./AppConfig.js"
import { LATE_ARRIVAL_LEDGER_TTL_MS } from "./RedactReapply.js"

/** The file token store's path for `config` (used when `KURA_TOKEN_STORE=file`). */
export const tokenFilePath = (config: Pick<AppConfig, "stateDir">): string =>
  join(config.stateDir, "tokens.json")

/** How long a redaction waits after recording its request when the ledger is cached for `ttlMs` elsewhere. */
export const settleAfter = (ttlMs: number): number => ttlMs + 1_000

/**
 * The Redaction options of the app: with the file token store configured, `redactShop` removes
 * the account's credentials from that file too (the sandbox keeps its tokens in memory only); on
 * BigQuery, `redactCustomer` outwaits other processes' copies of the ledger.
 */
export const redactionOptionsFor = (
  config: Pick<AppConfig, "stateDir" | "tokenStore" | "sandbox" | "warehouseSettings">
): RedactionOptions => ({
  ...(config.warehouseSettings.warehouse.kind === "bigquery"
    ? { settleMs: settleAfter(LATE_ARRIVAL_LEDGER_TTL_MS) }
    : {}),
  ...(config.sandbox || config.tokenStore !== "file"
    ? {}
    : { eraseCredentials: (isAccounts) => removeFileTokens(tokenFilePath(config), isAccounts) })
})
