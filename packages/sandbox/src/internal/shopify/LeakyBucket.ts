/**
 * A leaky bucket measured in "available" units, refilled continuously. GraphQL uses it for cost
 * points (2000 / 100 per s on Standard); REST uses it for calls (40 / 2 per s). Times are the
 * clock's monotonic `elapsed()`, never the wall clock.
 */
export class LeakyBucket {
  private level: number
  private at: number

  /** `perSecond` is already scaled by the sandbox time scale. */
  constructor(
    readonly capacity: number,
    readonly perSecond: number,
    now: number
  ) {
    this.level = capacity
    this.at = now
  }

  /** Units available now (fractional). */
  available(now: number): number {
    const elapsed = Math.max(0, now - this.at) / 1000
    this.level = Math.min(this.capacity, this.level + elapsed * this.perSecond)
    this.at = Math.max(this.at, now)
    return this.level
  }

  /** Takes `units` if available; false (and nothing taken) otherwise. */
  tryTake(units: number, now: number): boolean {
    if (this.available(now) < units) return false
    this.level -= units
    return true
  }

  /** Gives back units (refund of requested − actual cost), capped at capacity. */
  give(units: number, now: number): void {
    this.level = Math.min(this.capacity, this.available(now) + units)
  }

  /** Snapshot / restore, so a faulted request can leave no trace. */
  snapshot(): readonly [number, number] {
    return [this.level, this.at]
  }

  restore(snapshot: readonly [number, number]): void {
    this.level = snapshot[0]
    this.at = snapshot[1]
  }
}
