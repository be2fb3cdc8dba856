/**
 * The runs this process made, kept only as far back as anything reads them: the newest
 * `perStream` of each stream. The warehouse ledger merges what only the process knows (trigger,
 * early stop, a run not written yet) into the ledger's rows, which show at most 50 runs a stream.
 * Unbounded, a service kept every run it ever made: a soak's heap snapshots found ~1,800 runs'
 * records (with their API usage) added in 18 minutes and never released.
 */
import { streamKeyToString } from "@kura/core"
import type { RunRecord } from "../RunLedger.js"

/** A bounded map of run id → record, oldest first. */
export interface RecentRuns {
  /** Adds or replaces a run; the oldest of its stream beyond the bound is forgotten. */
  readonly set: (run: RunRecord) => void
  readonly get: (runId: string) => RunRecord | undefined
  /** Every kept run, oldest first (insertion order of each run's first record). */
  readonly values: () => IterableIterator<RunRecord>
}

/** Keeps the newest `perStream` runs of each stream. */
export const makeRecentRuns = (perStream: number): RecentRuns => {
  const runs = new Map<string, RunRecord>()
  const byStream = new Map<string, Array<string>>()
  return {
    set: (run) => {
      if (!runs.has(run.runId)) {
        const stream = streamKeyToString(run.key)
        const ids = byStream.get(stream) ?? []
        ids.push(run.runId)
        byStream.set(stream, ids)
        while (ids.length > perStream) {
          const oldest = ids.shift()
          if (oldest !== undefined) runs.delete(oldest)
        }
      }
      runs.set(run.runId, run)
    },
    get: (runId) => runs.get(runId),
    values: () => runs.values()
  }
}
