/**
 * Seeded, reproducible fault decisions (implements `FaultInjector` from contracts.ts).
 *
 * Each (api, kind) pair has its own random stream and counter, so the n-th decision for a pair is
 * the same in every run with the same seed, however requests to other APIs interleave.
 */
import type { FaultInjector, FaultKind, FaultProfile, SandboxApi } from "../contracts.js"
import { keyOf, unitOf } from "../generator/random.js"

/** Every fault kind, in a fixed order (the order also numbers the random streams). */
export const FAULT_KINDS: ReadonlyArray<FaultKind> = [
  "http_5xx",
  "http_429",
  "throttled",
  "connection_reset",
  "slow_response",
  "truncated_body",
  "malformed_json",
  "early_token_expiry",
  "bulk_failure"
]

const APIS: ReadonlyArray<SandboxApi> = ["shopify", "lightspeed", "stocky"]

/** Per-request probabilities of each profile. */
export const FAULT_PROFILES: Readonly<Record<FaultProfile, Readonly<Record<FaultKind, number>>>> = {
  none: {
    http_5xx: 0,
    http_429: 0,
    throttled: 0,
    connection_reset: 0,
    slow_response: 0,
    truncated_body: 0,
    malformed_json: 0,
    early_token_expiry: 0,
    bulk_failure: 0
  },
  flaky: {
    http_5xx: 0.02,
    http_429: 0.03,
    throttled: 0.03,
    connection_reset: 0.005,
    slow_response: 0.02,
    truncated_body: 0.005,
    malformed_json: 0.005,
    early_token_expiry: 0.02,
    bulk_failure: 0.05
  },
  chaos: {
    http_5xx: 0.08,
    http_429: 0.1,
    throttled: 0.1,
    connection_reset: 0.03,
    slow_response: 0.05,
    truncated_body: 0.03,
    malformed_json: 0.03,
    early_token_expiry: 0.1,
    bulk_failure: 0.2
  }
}

/** Options for `makeFaultInjector`. */
export interface FaultInjectorOptions {
  readonly profile: FaultProfile
  readonly seed: number
  /** Override single probabilities (0..1), e.g. `{ http_5xx: 1 }` in a test. */
  readonly overrides?: Partial<Record<FaultKind, number>>
  /** Restrict injection to these APIs (default: all). */
  readonly apis?: ReadonlyArray<SandboxApi>
}

/** A FaultInjector that also tells its probabilities and can be paused. */
export interface SandboxFaultInjector extends FaultInjector {
  probability(kind: FaultKind): number
  /** While paused, `decide` answers false and counts nothing (e.g. during harness setup). */
  setPaused(paused: boolean): void
}

/** Builds the injector. Throws RangeError on unknown profiles or probabilities outside [0, 1]. */
export const makeFaultInjector = (options: FaultInjectorOptions): SandboxFaultInjector => {
  const base = FAULT_PROFILES[options.profile]
  if (base === undefined) {
    throw new RangeError(`faults must be one of none, flaky, chaos; got ${String(options.profile)}`)
  }
  const p: Record<FaultKind, number> = { ...base }
  for (const [kind, value] of Object.entries(options.overrides ?? {})) {
    if (
      !FAULT_KINDS.includes(kind as FaultKind) ||
      typeof value !== "number" ||
      !(value >= 0 && value <= 1)
    ) {
      throw new RangeError(
        `fault override ${kind} must be a known kind with a probability in [0, 1]; got ${String(value)}`
      )
    }
    p[kind as FaultKind] = value
  }
  const enabled = new Set(options.apis ?? APIS)
  const counters = new Map<string, number>()
  const injected: Record<SandboxApi, Partial<Record<FaultKind, number>>> = {
    shopify: {},
    lightspeed: {},
    stocky: {}
  }
  let paused = false
  return {
    profile: options.profile,
    probability: (kind) => p[kind],
    setPaused: (value) => {
      paused = value
    },
    decide(api, kind) {
      const prob = p[kind]
      if (paused || prob <= 0 || !enabled.has(api)) return false
      const key = `${api}/${kind}`
      const n = counters.get(key) ?? 0
      counters.set(key, n + 1)
      const stream = 100 + APIS.indexOf(api) * 16 + FAULT_KINDS.indexOf(kind)
      const hit = unitOf(keyOf(options.seed, stream, n)) < prob
      if (hit) injected[api][kind] = (injected[api][kind] ?? 0) + 1
      return hit
    },
    report: () => ({
      shopify: { ...injected.shopify },
      lightspeed: { ...injected.lightspeed },
      stocky: { ...injected.stocky }
    })
  }
}
