// Shared set-up of the K-Series emulator tests: start an emulator over a merchant and talk OAuth.
import { makeClock } from "../../src/internal/clock.js"
import type { FaultInjector, SandboxClock } from "../../src/internal/contracts.js"
import { makeFaultInjector } from "../../src/internal/faults/FaultInjector.js"
import {
  type LightspeedEmulatorHandle,
  type LightspeedEmulatorOptions,
  startLightspeedEmulator
} from "../../src/internal/lightspeed/startLightspeedEmulator.js"
import type { Merchant } from "../../src/internal/Merchant.js"

/** An HTTP Basic header. */
export const basic = (id: string, secret: string) =>
  `Basic ${Buffer.from(`${id}:${secret}`).toString("base64")}`

/** A form-urlencoded body. */
export const form = (o: Record<string, string>) => new URLSearchParams(o).toString()

/** Starts an emulator on a free port: no faults (seed 1), real time, no rate limit unless given. */
export const startEmulator = (
  merchant: Merchant,
  setup: {
    readonly faults?: FaultInjector
    readonly clock?: SandboxClock
    readonly options?: LightspeedEmulatorOptions
  } = {}
): Promise<LightspeedEmulatorHandle> =>
  startLightspeedEmulator({
    merchant,
    faults: setup.faults ?? makeFaultInjector({ profile: "none", seed: 1 }),
    clock: setup.clock ?? makeClock(1),
    port: 0,
    options: setup.options ?? { rateLimit: null }
  })

/** POSTs a grant to the token endpoint as a confidential client (Basic auth; `secret` overrides). */
export const tokenRequest = (
  em: LightspeedEmulatorHandle,
  params: Record<string, string>,
  secret = em.credentials.clientSecret
) =>
  fetch(em.credentials.tokenUrl, {
    method: "POST",
    headers: {
      authorization: basic(em.credentials.clientId, secret),
      "content-type": "application/x-www-form-urlencoded"
    },
    body: form(params)
  })

/** A refresh_token grant. */
export const refresh = (em: LightspeedEmulatorHandle, token: string) =>
  tokenRequest(em, { grant_type: "refresh_token", refresh_token: token })

/** The access token of a refresh with the emulator's initial refresh token. */
export const accessToken = async (em: LightspeedEmulatorHandle): Promise<string> =>
  ((await (await refresh(em, em.credentials.refreshToken)).json()) as { access_token: string }).access_token
