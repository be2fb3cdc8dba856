/** The end-of-run summary: the per-window ledger and the reconciliation of reported vs loaded. */
import type { StoredDeadLetter } from "@kura/warehouse"
import type { LedgerEntry } from "./WindowOutcome.js"

const pad = (s: string, n: number) => (s.length >= n ? s : s + " ".repeat(n - s.length))

/** Formats the ledger; `skippedLoaded` gives the rows earlier runs loaded for skipped windows. */
export const formatSummary = (
  ledger: ReadonlyArray<LedgerEntry>,
  skippedLoaded: ReadonlyMap<string, number>
): string => {
  const lines = [
    "Window ledger:",
    `  ${pad("window", 72)} ${pad("status", 11)} ${pad("reported", 9)} ${pad("fetched", 9)} ${pad("loaded", 9)} held`
  ]
  let reported = 0
  let loaded = 0
  let unknown = 0
  for (const e of ledger) {
    const o = e.outcome
    const l = o?.loaded ?? skippedLoaded.get(e.window.id) ?? 0
    loaded += l
    if (o !== null) {
      if (o.reportedCount === null) unknown++
      else reported += o.reportedCount
    }
    lines.push(
      `  ${pad(e.window.id, 72)} ${pad(e.status, 11)} ${pad(o === null ? "-" : String(o.reportedCount ?? "n/a"), 9)} ${pad(o === null ? "-" : String(o.fetched), 9)} ${pad(o === null && e.status !== "skipped" ? "-" : String(l), 9)} ${o === null ? "-" : (o.alreadyHeld ?? 0)}`
    )
  }
  const ran = ledger.filter((e) => e.outcome !== null)
  const bad = ledger.filter((e) => e.status === "failed" || e.status === "incomplete")
  lines.push(
    `Reconciliation: ${ran.length} window(s) run, ${ledger.length - ran.length - bad.filter((e) => e.outcome === null).length} skipped as done; API reported ${reported}${unknown > 0 ? ` (+${unknown} window(s) without an exact count)` : ""}, loaded ${ran.reduce((n, e) => n + (e.outcome?.loaded ?? 0), 0)} in this run, ${loaded} in this share overall`
  )
  const byIds = ran.filter((e) => e.outcome?.countBasis === "distinct-ids")
  if (byIds.length > 0) {
    const dups = byIds.reduce((n, e) => n + (e.outcome?.duplicatesFetched ?? 0), 0)
    lines.push(
      `Count basis: ${byIds.length} window(s) have no API count (Lightspeed K-Series has no count endpoint, nor has Stocky's API): "reported" is the distinct ids fetched (Lightspeed: sale/receipt account references), each of which must be in _kura_raw once; ${dups} record(s) fetched more than once were stored once.`
    )
  }
  lines.push(
    bad.length === 0
      ? "Every window ties."
      : `NOT TIED: ${bad.map((e) => `${e.window.id}: ${e.detail ?? e.status}`).join("; ")}`
  )
  return lines.join("\n")
}

/**
 * The dead letters a run wrote, by stream and reason: records a client could not decode or a mapper
 * could not map are set aside with their raw payload while the rest loads, so the summary must say so.
 */
export const formatDeadLetters = (letters: ReadonlyArray<StoredDeadLetter>): string => {
  const groups = new Map<string, number>()
  for (const l of letters) {
    const g = `${l.key.source}/${l.key.stream} ${l.reason}`
    groups.set(g, (groups.get(g) ?? 0) + 1)
  }
  const parts = [...groups].sort(([a], [b]) => a.localeCompare(b)).map(([g, n]) => `${g}: ${n}`)
  return `Dead letters: ${letters.length} record(s) set aside in _kura_dead_letters with their raw payload (${parts.join(", ")}); the rest loaded. Inspect with \`kura-sync dead-letters list\`, load them once fixed with \`kura-sync dead-letters replay\`.`
}
