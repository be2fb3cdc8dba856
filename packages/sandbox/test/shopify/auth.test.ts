import { afterEach, describe, expect, it } from "vitest"
import { type Started, start } from "./harness.js"

const INVALID = { errors: "[API] Invalid API key or access token (unrecognized login or wrong password)" }

const tokenRequest = (s: Started, body: Record<string, string>, json = false) =>
  fetch(`${s.handle.baseUrl}/admin/oauth/access_token`, {
    method: "POST",
    headers: { "Content-Type": json ? "application/json" : "application/x-www-form-urlencoded" },
    body: json ? JSON.stringify(body) : new URLSearchParams(body).toString()
  })

describe("Shopify emulator: authentication", () => {
  let s: Started | undefined
  afterEach(async () => {
    await s?.handle.close()
    s = undefined
  })

  it("issues client-credentials tokens that expire after 24 h scaled", async () => {
    // 24 h at timeScale 86400 → about one second.
    s = await start({ orders: 10, timeScale: 86_400 })
    const { clientId, clientSecret } = s.handle.credentials
    const res = await tokenRequest(s, {
      grant_type: "client_credentials",
      client_id: clientId,
      client_secret: clientSecret
    })
    expect(res.status).toBe(200)
    const tok = (await res.json()) as { access_token: string; expires_in: number; scope: string }
    expect(tok.access_token).toMatch(/^shpca_/)
    expect(tok.expires_in).toBe(1)
    expect(tok.scope.split(",")).toContain("read_orders")
    expect((await s.gql("{ shop { name } }", undefined, "2026-01", tok.access_token)).status).toBe(200)
    const json = await tokenRequest(
      s,
      { grant_type: "client_credentials", client_id: clientId, client_secret: clientSecret },
      true
    )
    expect(json.status).toBe(200)
    await new Promise((r) => setTimeout(r, 1100))
    const expired = await fetch(`${s.handle.baseUrl}/admin/api/2026-01/graphql.json`, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-Shopify-Access-Token": tok.access_token },
      body: JSON.stringify({ query: "{ shop { name } }" })
    })
    expect(expired.status).toBe(401)
    expect(await expired.json()).toEqual(INVALID)
  })

  it("answers 401 with the documented body for bad tokens (GraphQL and REST) and 400 for a bad client", async () => {
    s = await start({ orders: 10 })
    const rest = await s.rest("orders.json", "2026-01", "shpat_nope")
    expect(rest.status).toBe(401)
    expect(await rest.json()).toEqual(INVALID)
    const missing = await fetch(`${s.handle.baseUrl}/admin/api/2026-01/graphql.json`, {
      method: "POST",
      body: "{}"
    })
    expect(missing.status).toBe(401)
    expect(missing.headers.get("x-shopify-api-version")).toBe("2026-01")
    const bad = await tokenRequest(s, {
      grant_type: "client_credentials",
      client_id: "x",
      client_secret: "y"
    })
    expect(bad.status).toBe(400)
    expect(((await bad.json()) as { error: string }).error).toBe("invalid_client")
  })

  it("rotates refresh tokens for expiring offline tokens", async () => {
    s = await start({ orders: 10, timeScale: 3600 })
    const { clientId, clientSecret } = s.handle.credentials
    const first = s.handle.issueExpiringOfflineToken()
    expect(first.expires_in).toBe(1)
    expect(first.refresh_token).toMatch(/^shprt_/)
    const refresh = (token: string) =>
      tokenRequest(s!, {
        grant_type: "refresh_token",
        client_id: clientId,
        client_secret: clientSecret,
        refresh_token: token
      })
    const r1 = await refresh(first.refresh_token!)
    expect(r1.status).toBe(200)
    const second = (await r1.json()) as { access_token: string; refresh_token: string }
    expect(second.refresh_token).not.toBe(first.refresh_token)
    expect((await s.gql("{ shop { name } }", undefined, "2026-01", second.access_token)).status).toBe(200)
    // The previous refresh token stays valid until its successor is used…
    const r2 = await refresh(first.refresh_token!)
    expect(r2.status).toBe(200)
    const third = (await r2.json()) as { refresh_token: string }
    // …and once the successor is used, the old one is revoked.
    expect((await refresh(third.refresh_token)).status).toBe(200)
    const revoked = await refresh(first.refresh_token!)
    expect(revoked.status).toBe(400)
    expect(((await revoked.json()) as { error: string }).error).toBe("invalid_grant")
    await new Promise((r) => setTimeout(r, 1100))
    expect((await s.gql("{ shop { name } }", undefined, "2026-01", second.access_token)).status).toBe(401)
  })

  it("expires a token early under the early_token_expiry fault", async () => {
    s = await start({ orders: 10 })
    const tok = s.handle.issueExpiringOfflineToken()
    s.faults.arm("early_token_expiry")
    expect((await s.gql("{ shop { name } }", undefined, "2026-01", tok.access_token)).status).toBe(401)
    expect((await s.gql("{ shop { name } }", undefined, "2026-01", tok.access_token)).status).toBe(401)
  })
})
