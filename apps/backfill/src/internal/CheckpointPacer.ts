/**
 * When the fast path runs a DuckDB CHECKPOINT. The rows a window's loads append stay in DuckDB's
 * memory until a checkpoint writes them out, and a checkpoint costs 0.4–0.7 s however little it
 * writes. So small windows share one, while a large window still starts and ends with nothing
 * held, as when every window checkpointed: the memory a large load has is the same as before.
 */
export class CheckpointPacer {
  #held = 0

  /** `every`: orders appended since the last checkpoint that call for the next one (≥ 1). */
  constructor(private readonly every: number) {}

  /** Orders appended since the last checkpoint. */
  get held(): number {
    return this.#held
  }

  /** Before a window's loads of `orders` orders: checkpoint first (a large window after small ones). */
  before(orders: number): boolean {
    return this.#held > 0 && orders >= this.every
  }

  /** After loads that appended `orders` orders: whether to checkpoint now. */
  after(orders: number): boolean {
    this.#held += orders
    return this.#held >= this.every
  }

  /** A checkpoint ran: nothing is held. */
  done(): void {
    this.#held = 0
  }
}
