/**
 * The event ids already accepted, bounded two ways: by a TTL (Shopify stops retrying an event
 * after a few hours, so remembering it for longer only costs memory) and by a capacity (the oldest
 * ids are forgotten first when a burst exceeds it).
 */

/** The dedup key of a delivery: shop, lake stream of the topic, event id. */
export const dedupKey = (shop: string, stream: string, eventId: string): string =>
  `${shop}/${stream}/${eventId}`

/** An insertion-ordered set of keys with a TTL and a capacity. */
export class DedupSet {
  private readonly seen = new Map<string, number>()

  readonly ttlMs: number
  readonly capacity: number

  // Plain fields, not parameter properties: the intake thread runs this file with type stripping.
  constructor(ttlMs: number, capacity: number) {
    this.ttlMs = ttlMs
    this.capacity = capacity
  }

  /** Number of remembered keys. */
  get size(): number {
    return this.seen.size
  }

  /** True when `key` was added less than the TTL before `now`. */
  has(key: string, now: number): boolean {
    const at = this.seen.get(key)
    return at !== undefined && now - at < this.ttlMs
  }

  /** Remembers `key` as seen at `at` (re-adding moves it to the young end). */
  add(key: string, at: number): void {
    this.seen.delete(key)
    this.seen.set(key, at)
    this.evict(at)
  }

  /** The remembered keys with when they were seen, oldest first. */
  entries(): Array<readonly [string, number]> {
    return [...this.seen]
  }

  /** Forgets `key` (its delivery was not stored, so a retry must be accepted). */
  delete(key: string): void {
    this.seen.delete(key)
  }

  private evict(now: number): void {
    while (this.seen.size > this.capacity) {
      const oldest = this.seen.keys().next()
      if (oldest.done === true) break
      this.seen.delete(oldest.value)
    }
    // Keys arrive roughly in time order, so expired ones sit at the old end.
    for (const [key, at] of this.seen) {
      if (now - at < this.ttlMs) break
      this.seen.delete(key)
    }
  }
}
