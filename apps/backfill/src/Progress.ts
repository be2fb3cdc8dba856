/**
 * Progress of a backfill: a redrawn bar on a terminal (windows, rows, rows/s, ETA, API budget),
 * plain log lines when stdout is not a TTY (Cloud Run, CI, pipes).
 */
import { Effect } from "effect"
import type { WindowOutcome } from "./WindowOutcome.js"

/** Where progress is written. */
export interface ProgressOutput {
  readonly isTTY: boolean
  readonly write: (text: string) => void
}

/** Live counters of one run. */
export class Progress {
  private windowsDone = 0
  private rows = 0
  private points = 0
  private readonly startedAt = Date.now()
  private lastDraw = 0

  constructor(
    private readonly total: number,
    private readonly out: ProgressOutput
  ) {}

  /** Records streamed so far (redraws the bar at most 4 times a second). */
  readonly records = (n: number): Effect.Effect<void> =>
    Effect.sync(() => {
      this.rows += n
      if (this.out.isTTY && Date.now() - this.lastDraw > 250) this.draw()
    })

  /** A window finished (successfully or not). */
  readonly windowFinished = (
    id: string,
    outcome: WindowOutcome | null,
    status: string
  ): Effect.Effect<void> =>
    Effect.sync(() => {
      this.windowsDone++
      if (outcome !== null) this.points += outcome.points
      if (this.out.isTTY) this.draw()
      else
        this.out.write(
          `window ${this.windowsDone}/${this.total} ${status} ${id} rows=${outcome?.loaded ?? 0} held=${outcome?.alreadyHeld ?? 0} fetched=${outcome?.fetched ?? 0} reported=${outcome?.reportedCount ?? "n/a"} total_rows=${this.rows} rows_per_s=${this.rate().toFixed(0)} eta_s=${this.eta() ?? "?"} api_points=${this.points}\n`
        )
    })

  /** Ends the bar line on a terminal. */
  readonly finish = (): Effect.Effect<void> =>
    Effect.sync(() => {
      if (this.out.isTTY) {
        this.draw()
        this.out.write("\n")
      }
    })

  private rate(): number {
    const s = (Date.now() - this.startedAt) / 1000
    return s > 0 ? this.rows / s : 0
  }

  private eta(): number | undefined {
    if (this.windowsDone === 0) return undefined
    const elapsed = (Date.now() - this.startedAt) / 1000
    return Math.round((elapsed / this.windowsDone) * (this.total - this.windowsDone))
  }

  private draw(): void {
    this.lastDraw = Date.now()
    const width = 24
    const filled = this.total === 0 ? width : Math.round((this.windowsDone / this.total) * width)
    const bar = `${"#".repeat(filled)}${"-".repeat(width - filled)}`
    const eta = this.eta()
    this.out.write(
      `\r[${bar}] ${this.windowsDone}/${this.total} windows  ${this.rows} rows  ${this.rate().toFixed(0)} rows/s  ETA ${eta === undefined ? "?" : `${eta}s`}  API ~${this.points} pts\x1b[K`
    )
  }
}
