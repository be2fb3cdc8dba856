/**
 * What a time-ordered bulk export has already emitted at its boundary: the latest whole second
 * seen and the ids of the roots emitted in it. A re-run after partial data starts at that second
 * (Shopify search dates have whole seconds), so it reads those roots again; they are skipped here.
 * Memory is bounded by the roots sharing one second, not by the export's size.
 *
 * @internal
 */
export class Boundary {
  /**
   * Every root admitted since the first partial result of this chain, kept in case the data turns
   * out not to be time-ordered (then the chain's window is re-read whole, skipping these); null once
   * more than `maxIds` were seen (re-reading may then repeat records).
   */
  emitted: Set<string> | null = new Set()
  /** Skip by `emitted` only (the data is not time-ordered). */
  private replay = false

  constructor(
    /** Where the chain's first job started (epoch ms): a disordered chain is re-read from here. */
    readonly origin: number,
    private readonly maxIds = 250_000
  ) {}

  /** Whether roots are skipped by `emitted` (the chain is being re-read from its origin). */
  get replaying(): boolean {
    return this.replay
  }

  /** Switches to skipping every root already emitted (after disorder was seen). */
  replayFromOrigin(): void {
    this.replay = true
  }

  /** The latest whole second (epoch seconds) an admitted root was updated in, if any. */
  second: number | null = null
  /** A root arrived earlier than the boundary: the data is not time-ordered. */
  disordered = false
  private readonly ids = new Set<string>()

  /** Whether to emit a root (false when it was already emitted at the boundary second). */
  admit(id: unknown, cursor: unknown): boolean {
    if (typeof id !== "string") return true
    if (this.replay) {
      if (this.emitted?.has(id) === true) return false
      this.remember(id)
      return true
    }
    this.remember(id)
    if (typeof cursor !== "string") return true
    const t = Date.parse(cursor)
    if (Number.isNaN(t)) return true
    const s = Math.floor(t / 1000)
    if (this.second === null || s > this.second) {
      this.second = s
      this.ids.clear()
      this.ids.add(id)
      return true
    }
    if (s < this.second) {
      this.disordered = true
      return true
    }
    if (this.ids.has(id)) return false
    this.ids.add(id)
    return true
  }

  private remember(id: string): void {
    if (this.emitted === null) return
    this.emitted.add(id)
    if (this.emitted.size > this.maxIds) this.emitted = null
  }

  /** Ids remembered at the boundary second (for tests and logs). */
  get size(): number {
    return this.ids.size
  }
}
