import * as oidc from "openid-client"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  defaultMerchantOptions,
  makeMerchant,
  todayUtcMidnight
} from "../../src/internal/generator/makeMerchant.js"
import type { LightspeedEmulatorHandle } from "../../src/internal/lightspeed/startLightspeedEmulator.js"
import { basic, startEmulator } from "./harness.js"

const REDIRECT = "http://127.0.0.1:9/callback"

describe("Lightspeed K-Series emulator: authorization-code grant", () => {
  let ls: LightspeedEmulatorHandle
  beforeAll(async () => {
    ls = await startEmulator(
      makeMerchant({ ...defaultMerchantOptions(todayUtcMidnight()), orders: 100, historyDays: 10 })
    )
  })
  afterAll(() => ls.close())

  /** Follows the authorize endpoint once; returns the redirect's parameters. */
  const authorize = async (params: Record<string, string>, url = ls.credentials.authorizeUrl) => {
    const res = await fetch(`${url}?${new URLSearchParams(params)}`, { redirect: "manual" })
    return { status: res.status, location: res.headers.get("location"), res }
  }
  const v1Token = (body: Record<string, string>, viaQuery = false) =>
    fetch(`${ls.credentials.tokenUrl}${viaQuery ? `?${new URLSearchParams(body)}` : ""}`, {
      method: "POST",
      headers: {
        authorization: basic(ls.credentials.clientId, ls.credentials.clientSecret),
        "content-type": "application/x-www-form-urlencoded"
      },
      ...(viaQuery ? {} : { body: new URLSearchParams(body).toString() })
    })

  it("V1: authorize redirects with a 6-character code and the state; the code buys one token pair, once", async () => {
    const a = await authorize({
      response_type: "code",
      client_id: ls.credentials.clientId,
      redirect_uri: REDIRECT,
      scope: "financial-api orders-api",
      state: "xyz"
    })
    expect(a.status).toBe(302)
    const back = new URL(a.location ?? "")
    expect(`${back.origin}${back.pathname}`).toBe(REDIRECT)
    expect(back.searchParams.get("state")).toBe("xyz")
    const code = back.searchParams.get("code") ?? ""
    expect(code).toMatch(/^[A-Za-z0-9]{6}$/)

    const wrongUri = await v1Token({
      grant_type: "authorization_code",
      code,
      redirect_uri: "http://127.0.0.1:9/other"
    })
    expect(wrongUri.status).toBe(400)
    expect(await wrongUri.json()).toMatchObject({ error: "invalid_grant" })

    // The V1 docs send the parameters in the URL: accepted like a form body.
    const ok = await v1Token({ grant_type: "authorization_code", code, redirect_uri: REDIRECT }, true)
    expect(ok.status).toBe(200)
    const tokens = (await ok.json()) as {
      access_token: string
      refresh_token: string
      expires_in: number
      scope: string
    }
    expect(tokens.expires_in).toBe(3600)
    expect(tokens.scope).toBe("financial-api orders-api")
    const api = await fetch(`${ls.baseUrl}/f/data/businesses`, {
      headers: { authorization: `Bearer ${tokens.access_token}` }
    })
    expect(api.status).toBe(200)

    const again = await v1Token({ grant_type: "authorization_code", code, redirect_uri: REDIRECT })
    expect(again.status).toBe(400)
    expect(await again.json()).toMatchObject({ error: "invalid_grant" })
    expect(ls.stats().authorizationCodeReuseAttempts).toBe(1)

    // The refresh token from the exchange rotates like any other.
    const refreshed = await v1Token({ grant_type: "refresh_token", refresh_token: tokens.refresh_token })
    expect(refreshed.status).toBe(200)
  })

  it("rejects bad authorize requests the OAuth way: no redirect for an unknown client or URI, error redirect otherwise", async () => {
    const unknown = await authorize({
      response_type: "code",
      client_id: "devp-nobody",
      redirect_uri: REDIRECT
    })
    expect(unknown.status).toBe(400)
    const insecure = await authorize({
      response_type: "code",
      client_id: ls.credentials.clientId,
      redirect_uri: "http://example.com/cb"
    })
    expect(insecure.status).toBe(400)
    const scope = await authorize({
      response_type: "code",
      client_id: ls.credentials.clientId,
      redirect_uri: REDIRECT,
      scope: "financial-api everything",
      state: "s1"
    })
    expect(scope.status).toBe(302)
    const back = new URL(scope.location ?? "")
    expect(back.searchParams.get("error")).toBe("invalid_scope")
    expect(back.searchParams.get("state")).toBe("s1")
    // A code issued to the V1 client is worthless to anyone else.
    const a = await authorize({
      response_type: "code",
      client_id: ls.credentials.clientId,
      redirect_uri: REDIRECT
    })
    const code = new URL(a.location ?? "").searchParams.get("code") ?? ""
    const other = await fetch(ls.credentials.v2TokenUrl, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        grant_type: "authorization_code",
        code,
        redirect_uri: REDIRECT,
        client_id: ls.credentials.v2ClientId,
        client_secret: ls.credentials.v2ClientSecret
      }).toString()
    })
    expect(await other.json()).toMatchObject({ error: "invalid_grant" })
  })

  it("V2: openid-client runs the whole flow with PKCE (S256) against the Keycloak endpoints", async () => {
    const config = new oidc.Configuration(
      {
        issuer: `${ls.baseUrl}/realms/k-series`,
        authorization_endpoint: ls.credentials.v2AuthorizeUrl,
        token_endpoint: ls.credentials.v2TokenUrl
      },
      ls.credentials.v2ClientId,
      { client_secret: ls.credentials.v2ClientSecret },
      oidc.ClientSecretPost(ls.credentials.v2ClientSecret)
    )
    oidc.allowInsecureRequests(config)
    const verifier = oidc.randomPKCECodeVerifier()
    const state = oidc.randomState()
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT,
      scope: "financial-api offline_access",
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: "S256",
      state
    })
    const res = await fetch(url, { redirect: "manual" })
    expect(res.status).toBe(302)
    const callback = new URL(res.headers.get("location") ?? "")

    // A wrong verifier is refused and redeems nothing, so the right one still works afterwards.
    const wrong = await oidc
      .authorizationCodeGrant(config, callback, {
        pkceCodeVerifier: oidc.randomPKCECodeVerifier(),
        expectedState: state
      })
      .then(
        () => "accepted",
        (e: unknown) => (e instanceof oidc.ResponseBodyError ? e.error : String(e))
      )
    expect(wrong).toBe("invalid_grant")
    const tokens = await oidc.authorizationCodeGrant(config, callback, {
      pkceCodeVerifier: verifier,
      expectedState: state
    })
    expect(tokens.access_token.length).toBeGreaterThan(20)
    expect(tokens.scope?.split(" ")).toEqual(
      expect.arrayContaining(["financial-api", "offline_access", "profile"])
    )
    const reuse = await oidc
      .authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: state })
      .then(
        () => "accepted",
        (e: unknown) => (e instanceof oidc.ResponseBodyError ? e.error : String(e))
      )
    expect(reuse).toBe("invalid_grant")
    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token ?? "")
    expect(refreshed.refresh_token).not.toBe(tokens.refresh_token)
  })
})
