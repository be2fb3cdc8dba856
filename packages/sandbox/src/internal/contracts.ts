/**
 * Contracts shared by the sandbox's parts, fixed up front so the emulators and the harness can be
 * built side by side. `startSandbox` (src/startSandbox.ts) builds one `Merchant`, one `FaultInjector`
 * and one `SandboxClock`, then starts each emulator with them.
 */
import type { Merchant } from "./Merchant.js"

/** The fault kinds the sandbox can inject; every injected fault is counted per kind. */
export type FaultKind =
  | "http_5xx"
  | "http_429"
  | "throttled"
  | "connection_reset"
  | "slow_response"
  | "truncated_body"
  | "malformed_json"
  | "early_token_expiry"
  | "bulk_failure"

/** Named profiles; `none` injects nothing. */
export type FaultProfile = "none" | "flaky" | "chaos"

/**
 * Seeded, reproducible fault decisions. An emulator asks `decide` once per request at the point
 * where that fault could happen; a `true` answer has already been counted.
 */
export interface FaultInjector {
  readonly profile: FaultProfile
  /** Whether to inject `kind` now, for this API ("shopify" | "lightspeed" | "stocky"). */
  decide(api: SandboxApi, kind: FaultKind): boolean
  /** Counts per API and kind of faults actually injected so far. */
  report(): Readonly<Record<SandboxApi, Readonly<Partial<Record<FaultKind, number>>>>>
}

/** The three emulated APIs. */
export type SandboxApi = "shopify" | "lightspeed" | "stocky"

/**
 * Clock-driven behaviour is sped up by `timeScale`: a duration of d real-world seconds takes
 * d / timeScale seconds here. Emulators report scaled figures honestly (a restore rate of
 * 100 points/s at timeScale 10 is reported as 1000; a 24 h token has expires_in 8640; Retry-After
 * 2.0 becomes 0.2), so a correct client needs no knowledge of the scale.
 */
export interface SandboxClock {
  readonly timeScale: number
  /** Wall-clock now (epoch ms). Timestamps on records are real time. */
  now(): number
  /** Converts a real-world duration in ms to the sandbox's scaled duration in ms. */
  scale(ms: number): number
  /**
   * Monotonic ms from an arbitrary origin; never goes back. Rate-limit buckets meter with it, so a
   * wall-clock step (NTP, a resumed VM) neither stalls a bucket until the wall catches up nor
   * floods it.
   */
  elapsed(): number
  /**
   * The sandbox calendar (epoch ms): equal to `now()` when the clock starts, then running
   * `timeScale` times faster. Calendar facts that are durations in disguise — which POS business
   * day is current, when it is `dataComplete` — follow it, so a test can watch days roll over in
   * seconds. Absent on hand-built clocks: the calendar is then the wall clock.
   */
  calendarNow?(): number
}

/** Shopify plan limits; Standard is 2000 bucket / 100 per second (before time scaling). */
export interface ShopifyPlan {
  readonly name: "standard" | "advanced" | "plus" | "enterprise" | "custom"
  readonly graphqlBucket: number
  readonly graphqlRestoreRate: number
  readonly restBucket: number
  readonly restLeakRate: number
}

/** What every emulator returns when started. */
export interface EmulatorHandle<Credentials> {
  /** e.g. http://127.0.0.1:43123 (no trailing slash). */
  readonly baseUrl: string
  readonly credentials: Credentials
  /** Request counts and other figures the emulator wants to report. */
  stats(): Readonly<Record<string, number>>
  close(): Promise<void>
}

/** Inputs every emulator receives. */
export interface EmulatorContext {
  readonly merchant: Merchant
  readonly faults: FaultInjector
  readonly clock: SandboxClock
  /** 0 picks a free port. */
  readonly port: number
}
