/**
 * What a time-ordered bulk export has already emitted at its boundary: the latest whole second
 * seen and the ids of the roots emitted in it. A re-run after partial data starts at that second
 * (Shopify search dates have whole seconds), so it reads those roots again; they are skipped here.
 * Memory is bounded by the roots sharing one second, not by the export's size.
 *
 * @internal
 */
export class Boundary {
  /** The latest whole second (epoch seconds) an admitted root was updated in, if any. */
  second: number | null = null
  /** A root arrived earlier than the boundary: the data is not time-ordered. */
  disordered = false
  private readonly ids = new Set<string>()

  /** Whether to emit a root (false when it was already emitted at the boundary second). */
  admit(id: unknown, cursor: unknown): boolean {
    if (typeof id !== "string" || typeof cursor !== "string") return true
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

  /** Ids remembered at the boundary second (for tests and logs). */
  get size(): number {
    return this.ids.size
  }
}
