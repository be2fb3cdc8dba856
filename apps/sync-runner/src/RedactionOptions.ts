/**
 * The app's Redaction options: where an erased shop's credentials live besides `_kura_tokens`
 * (which `Redaction.redactShop` clears itself), the file token store `<stateDir>/tokens.json`
 * when `KURA_TOKEN_STORE=file`, which the library cannot know.
 *
 * A redaction no longer waits for other processes' copies of the ledger (`settleMs`, 11 s on
 * BigQuery until session 11): every request rewrites the ledger's marker and `serve`'s landing
 * guard checks it at each batch (`makeLedgerCache`), so a batch landed after the request was
 * recorded is checked against a copy holding it, and one checked before had landed before the
 * request's pass read.
 */
import { join } from "node:path"
import { removeFileTokens } from "@kura/core"
import type { RedactionOptions } from "@kura/warehouse"
import type { AppConfig } from "./AppConfig.js"

/** The file token store's path for `config` (used when `KURA_TOKEN_STORE=file`). */
export const tokenFilePath = (config: Pick<AppConfig, "stateDir">): string =>
  join(config.stateDir, "tokens.json")

/**
 * The Redaction options of the app: with the file token store configured, `redactShop` removes
 * the account's credentials from that file too (the sandbox keeps its tokens in memory only).
 */
export const redactionOptionsFor = (
  config: Pick<AppConfig, "stateDir" | "tokenStore" | "sandbox">
): RedactionOptions =>
  config.sandbox || config.tokenStore !== "file"
    ? {}
    : { eraseCredentials: (isAccounts) => removeFileTokens(tokenFilePath(config), isAccounts) }
