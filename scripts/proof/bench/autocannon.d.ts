/** autocannon ships no types; the webhook bench uses its promise form and reads these fields. */
declare module "autocannon" {
  interface Histogram {
    readonly average: number
    readonly mean: number
    readonly p50: number
    readonly p90: number
    readonly p99: number
    readonly max: number
    readonly total: number
  }
  interface Result {
    readonly requests: Histogram
    readonly latency: Histogram
    readonly throughput: Histogram
    readonly errors: number
    readonly timeouts: number
    readonly non2xx: number
    readonly duration: number
    readonly [key: string]: unknown
  }
  const autocannon: (options: Record<string, unknown>) => Promise<Result>
  export default autocannon
}
