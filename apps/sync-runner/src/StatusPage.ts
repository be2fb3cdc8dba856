/**
 * The status page at `GET /`: one row per stream (last success, lag, rows, errors, reconciliation)
 * and an inline SVG chart of rows per run. Plain HTML, no scripts and no build step.
 */
import { streamKeyToString } from "@kura/core"
import { Result } from "effect"
import type { RunRecord, StreamStatus } from "./RunLedger.js"
import type { WebhookIntakeReport } from "./StatusReport.js"

const escapeHtml = (s: string) =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;")

/** Renders a duration in ms as `45s`, `12m`, `3h 5m`, `2d 4h`. */
export const formatLag = (ms: number | undefined): string => {
  if (ms === undefined) return "never"
  const s = Math.round(ms / 1000)
  if (s < 60) return `${s}s`
  const m = Math.floor(s / 60)
  if (m < 60) return `${m}m`
  const h = Math.floor(m / 60)
  if (h < 48) return `${h}h ${m % 60}m`
  return `${Math.floor(h / 24)}d ${h % 24}h`
}

/** An SVG bar chart of rows per finished run, oldest left. */
export const renderChart = (runs: ReadonlyArray<RunRecord>): string => {
  const finished = runs.filter((r) => r.status !== "running").toSorted((a, b) => a.startedAt - b.startedAt)
  const width = 600
  const height = 140
  const pad = 24
  if (finished.length === 0)
    return `<svg id="rows-chart" role="img" aria-label="Rows synced per run" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}"><text x="${width / 2}" y="${height / 2}" text-anchor="middle">No runs yet</text></svg>`
  const max = Math.max(1, ...finished.map((r) => r.rows))
  const slot = (width - pad * 2) / finished.length
  const barWidth = Math.max(2, slot * 0.8)
  const bars = finished
    .map((r, i) => {
      const h = Math.round(((height - pad * 2) * r.rows) / max)
      const x = pad + i * slot
      const y = height - pad - h
      const cls = r.status === "succeeded" ? "ok" : "bad"
      return `<rect class="bar ${cls}" x="${x.toFixed(1)}" y="${y}" width="${barWidth.toFixed(1)}" height="${h}"><title>${escapeHtml(`${streamKeyToString(r.key)}: ${r.rows} rows (${r.status})`)}</title></rect>`
    })
    .join("")
  return `<svg id="rows-chart" role="img" aria-label="Rows synced per run" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}"><line x1="${pad}" y1="${height - pad}" x2="${width - pad}" y2="${height - pad}" stroke="#888"/><text x="${pad}" y="${pad - 8}" font-size="11">max ${max} rows</text>${bars}</svg>`
}

/** Everything the page shows. */
export interface StatusView {
  readonly streams: ReadonlyArray<StreamStatus>
  readonly runs: ReadonlyArray<RunRecord>
  readonly skipped: ReadonlyArray<{ readonly source: string; readonly reason: string }>
  readonly now: number
  readonly draining: boolean
  /** The webhook intake thread's health, when the service runs one. */
  readonly webhookIntake?: WebhookIntakeReport | undefined
  /**
   * Configured accounts refused because they were erased (`shop/redact`), with what to do; a
   * failure to read the erasure ledger is shown as such (the runner then refuses every stream).
   */
  readonly erasedAccounts?: Result.Result<
    ReadonlyArray<{ readonly source: string; readonly account: string; readonly reason: string }>,
    { readonly message: string }
  >
}

/** The intake thread's line: restarts, the last one's time and error (already masked). */
const renderIntake = (w: WebhookIntakeReport): string =>
  `<p id="webhook-intake" class="${w.restarts === 0 ? "healthy" : "unhealthy"}">Webhook intake thread: <b class="restarts">${w.restarts}</b> restart(s)` +
  (w.lastRestartAt === null
    ? ""
    : `, last at <span class="last-restart">${escapeHtml(w.lastRestartAt)}</span>`) +
  (w.lastError === null ? "" : ` <span class="err">${escapeHtml(w.lastError)}</span>`) +
  ` &middot; ${w.pending} record(s) to land${w.adopted === 0 ? "" : `, ${w.adopted} adopted from dead threads`}</p>`

const reconcileText = (s: StreamStatus) => {
  const r = s.lastRun?.reconciliation
  return r === "ok" ? "yes" : r === "mismatch" ? "NO" : "not checked"
}

/** Renders the full HTML page. */
export const renderStatusPage = (view: StatusView): string => {
  const rows = view.streams
    .map((s) => {
      const healthy = s.lastRun?.status !== "failed" && s.lastRun?.reconciliation !== "mismatch"
      return `<tr class="stream ${healthy ? "healthy" : "unhealthy"}" data-stream="${escapeHtml(streamKeyToString(s.key))}">
<td>${escapeHtml(s.key.source)}</td><td>${escapeHtml(s.key.account)}</td><td>${escapeHtml(s.key.stream)}</td>
<td>${s.lastSuccessAt === undefined ? "never" : new Date(s.lastSuccessAt).toISOString()}</td>
<td>${formatLag(s.lagMs)}</td><td class="num">${s.rowsLastRun}</td>
<td class="num">${s.errorCount}${s.lastError === undefined ? "" : ` <span class="err">${escapeHtml(s.lastError)}</span>`}</td>
<td>${reconcileText(s)}</td><td>${escapeHtml(s.lastRun?.status ?? "-")}</td></tr>`
    })
    .join("\n")
  const skipped = view.skipped
    .map((s) => `<li><b>${escapeHtml(s.source)}</b> skipped: ${escapeHtml(s.reason)}</li>`)
    .join("")
  const erasure = view.erasedAccounts
  const erased =
    erasure === undefined
      ? ""
      : Result.isFailure(erasure)
        ? `<li>the erasure ledger could not be read, so no stream runs until it can: ${escapeHtml(erasure.failure.message)}</li>`
        : erasure.success
            .map(
              (e) =>
                `<li><b>${escapeHtml(e.source)}</b> account <b>${escapeHtml(e.account)}</b> is not synced: ${escapeHtml(e.reason)}</li>`
            )
            .join("")
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="30">
<title>Kura sync status</title>
<style>
body{font-family:system-ui,sans-serif;margin:2rem;color:#222}
table{border-collapse:collapse;margin:1rem 0}th,td{padding:.3rem .6rem;border-bottom:1px solid #ddd;text-align:left}
td.num{text-align:right}.unhealthy{background:#fde8e8}.err{color:#a00;font-size:.85em}
.bar.ok{fill:#3a7}.bar.bad{fill:#c33}
</style></head>
<body>
<h1>Kura sync status</h1>
<p>Generated ${new Date(view.now).toISOString()}${view.draining ? " &middot; <b>draining (shutting down)</b>" : ""}</p>
<table id="streams"><thead><tr><th>Source</th><th>Account</th><th>Stream</th><th>Last success</th><th>Lag</th><th>Rows (last run)</th><th>Errors</th><th>Reconciles</th><th>Last status</th></tr></thead>
<tbody>
${rows}
</tbody></table>
${skipped === "" ? "" : `<ul id="skipped">${skipped}</ul>`}
${erased === "" ? "" : `<ul id="erased" class="unhealthy">${erased}</ul>`}
${view.webhookIntake === undefined ? "" : renderIntake(view.webhookIntake)}
<h2>Rows synced per run</h2>
${renderChart(view.runs)}
</body></html>`
}
