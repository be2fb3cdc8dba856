/**
 * A GraphQL request to a started sandbox's Shopify emulator with the sandbox's own credentials,
 * for tests that check what the emulator serves through its public API.
 */
import type { Sandbox } from "../src/startSandbox.js"

/** POSTs `query` (and `variables`) to `sb`'s Admin GraphQL endpoint; resolves to the HTTP response. */
export const sandboxGraphql = (
  sb: Sandbox,
  query: string,
  variables: Readonly<Record<string, unknown>> = {}
): Promise<Response> =>
  fetch(`${sb.shopify.baseUrl}/admin/api/${sb.shopify.credentials.apiVersion}/graphql.json`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "x-shopify-access-token": sb.shopify.credentials.accessToken
    },
    body: JSON.stringify({ query, variables })
  })
