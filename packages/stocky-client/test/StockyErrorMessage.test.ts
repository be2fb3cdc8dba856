/**
 * The `Retired` message: a mistyped base URL answers 404 on every path too, so a URL outside
 * `/api/v2/` gets the base-URL fix next to the archive one.
 */
import { describe, expect, it } from "vitest"
import { Retired, StockyError } from "../src/index.js"

const retired = (url: string) =>
  new StockyError({ reason: new Retired({ url, evidence: "404 HTML page (not the API) on /x" }) }).message

describe("StockyError Retired message", () => {
  it("adds the base-URL fix when the request was not under /api/v2", () => {
    const message = retired("https://stocky.shopifyapps.com/purchase_orders.json?page=1")
    expect(message).toContain("Stocky's API is no longer available; import an archive instead")
    expect(message).toContain("the base URL is wrong: it must end in /api/v2")
  })

  it("keeps the plain retirement message for the API's own paths", () => {
    const message = retired("https://stocky.shopifyapps.com/api/v2/suppliers.json")
    expect(message).toContain("Stocky's API is no longer available; import an archive instead")
    expect(message).not.toContain("base URL is wrong")
  })
})
