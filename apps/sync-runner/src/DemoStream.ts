/**
 * The `demo` source: synthetic pages of rows with a delay between pages. It exercises everything
 * around a real connector (leases, checkpoints, drain, ledger, status page) with no credentials, for
 * `npm run demo` and for smoke-testing a deployment.
 */
import { Effect, Option } from "effect"
import type { DemoStreamConfig } from "./AppConfig.js"
import type { SyncStream } from "./SyncStream.js"

/** Builds a demo stream; its cursor counts pages synced so far, so every run has new pages. */
export const makeDemoStream = (config: DemoStreamConfig, intervalMs: number): SyncStream => ({
  key: { source: "demo", account: "demo", stream: config.name },
  intervalMs,
  run: (ctx) =>
    Effect.gen(function* () {
      const start = Option.match(ctx.checkpoint, { onNone: () => 0, onSome: (c) => Number(c.cursor) || 0 })
      let rows = 0
      for (let page = start + 1; page <= start + config.pages; page++) {
        if (yield* ctx.draining) return { rows, reconciliation: "ok", stoppedEarly: true } as const
        yield* Effect.sleep(config.pageDelayMs)
        rows += config.rowsPerPage
        // Committing per page is what lets a drained or crashed run resume without gaps.
        yield* ctx.commit(String(page), { runId: ctx.runId, rows })
      }
      return { rows, reconciliation: "ok" } as const
    })
})
