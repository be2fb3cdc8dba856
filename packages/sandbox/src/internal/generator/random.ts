/**
 * Seeded, allocation-light randomness. Every lazily generated record draws from its own stream keyed
 * by (seed, stream, index), so record i never depends on records before it: that is what lets
 * `orderAt(i)` be a pure function and memory stay flat at any scale.
 */

/** A 32-bit avalanche mix (splitmix32 finaliser). */
export const mix32 = (x: number): number => {
  let z = (x + 0x9e3779b9) | 0
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b)
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35)
  return (z ^ (z >>> 16)) >>> 0
}

/** A 32-bit key for (seed, stream, index); distinct streams keep unrelated draws independent. */
export const keyOf = (seed: number, stream: number, index: number): number =>
  mix32(mix32(seed ^ Math.imul(stream, 0x632be5ab)) ^ mix32(index >>> 0) ^ Math.floor(index / 4294967296))

/** Uniform float in [0, 1) derived from a key without creating a generator. */
export const unitOf = (key: number): number => mix32(key) / 4294967296

/** A mulberry32 generator: fast, good enough for synthetic data, and reproducible. */
export class Rng {
  private state: number
  constructor(key: number) {
    this.state = key >>> 0
  }
  /** Next uint32. */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) | 0
    let t = this.state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return (t ^ (t >>> 14)) >>> 0
  }
  /** Uniform float in [0, 1). */
  float(): number {
    return this.next() / 4294967296
  }
  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.float() * n)
  }
  /** Uniform integer in [lo, hi] inclusive. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1)
  }
  /** True with probability p. */
  chance(p: number): boolean {
    return this.float() < p
  }
}

/** Picks an index from a cumulative weight table (last entry = total) by binary search. */
export const pickCumulative = (cumulative: Float64Array, u: number): number => {
  const target = u * (cumulative[cumulative.length - 1] ?? 0)
  let lo = 0
  let hi = cumulative.length - 1
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if ((cumulative[mid] ?? 0) > target) hi = mid
    else lo = mid + 1
  }
  return lo
}

/** Builds a cumulative table from weights. */
export const cumulativeOf = (weights: ReadonlyArray<number>): Float64Array => {
  const out = new Float64Array(weights.length)
  let sum = 0
  for (let i = 0; i < weights.length; i++) {
    sum += weights[i] ?? 0
    out[i] = sum
  }
  return out
}
