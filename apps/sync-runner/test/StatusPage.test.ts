import { existsSync } from "node:fs"
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Result } from "effect"
import { type BrowserContext, chromium } from "playwright-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { formatLag, renderChart, renderStatusPage } from "../src/StatusPage.js"
import { eventually, failingStream, finishedRuns, slowStream, withServer } from "./support.js"

const CHROMIUM = "/usr/bin/chromium"
const hasChromium = existsSync(CHROMIUM)
if (!hasChromium)
  console.warn(`status page browser test skipped: ${CHROMIUM} is absent (apt-get install -y chromium)`)

describe.skipIf(!hasChromium)("status page in headless Chromium", () => {
  let browser: BrowserContext
  let profile: string
  beforeAll(async () => {
    profile = await mkdtemp(join(tmpdir(), "kura-chromium-"))
    // A fresh profile directory per run (playwright passes it as --user-data-dir).
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync"
      ]
    })
  })
  afterAll(async () => {
    await browser?.close()
    await rm(profile, { recursive: true, force: true })
  })

  it("shows a row per stream and an SVG chart of rows per run", () => {
    const secret = "status-page-secret-0123456789"
    return withServer(
      {
        streams: [
          slowStream("orders", 20, 120),
          slowStream("refunds", 20, 30),
          failingStream("payments"),
          slowStream("inventory", 20, 0)
        ],
        triggerSecret: secret
      },
      async ({ url }) => {
        const trigger = (path: string) =>
          fetch(`${url}/sync/${path}`, { method: "POST", headers: { authorization: `Bearer ${secret}` } })
        await trigger("demo/orders")
        await trigger("demo/refunds")
        await trigger("demo/payments")
        // Wait for the runs themselves: fixed 150 ms pauses lost a run to a loaded box.
        await eventually(async () => (await finishedRuns(url, "orders")) === 1)
        // Busy (409) until the first run's lease is freed, just after it is counted.
        await eventually(async () => (await trigger("demo/orders")).status !== 409)
        await eventually(
          async () =>
            (await finishedRuns(url, "orders")) === 2 &&
            (await finishedRuns(url, "refunds")) === 1 &&
            (await finishedRuns(url, "payments", "failed")) === 1
        )

        const page = await browser.newPage()
        const response = await page.goto(`${url}/`)
        expect(response?.headers()["content-type"]).toMatch(/^text\/html/)
        expect(await page.title()).toBe("Kura sync status")
        const rows = page.locator("#streams tbody tr.stream")
        expect(await rows.count()).toBe(4)
        expect(await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute("data-stream")))).toEqual([
          "demo/test/orders",
          "demo/test/refunds",
          "demo/test/payments",
          "demo/test/inventory"
        ])
        const orders = page.locator('tr[data-stream="demo/test/orders"] td')
        expect(await orders.nth(5).textContent()).toBe("120")
        expect(await orders.nth(7).textContent()).toBe("yes")
        expect(await page.locator('tr[data-stream="demo/test/inventory"] td').nth(3).textContent()).toBe(
          "never"
        )
        const payments = page.locator('tr[data-stream="demo/test/payments"]')
        expect(await payments.getAttribute("class")).toContain("unhealthy")
        expect(await payments.locator("td").nth(6).textContent()).toContain(
          "SyncError: HTTP 503 from upstream"
        )
        const svg = page.locator("svg#rows-chart")
        expect(await svg.isVisible()).toBe(true)
        expect(await svg.locator("rect.bar").count()).toBe(4)
        expect(await svg.locator("rect.bar.bad").count()).toBe(1)
        const box = await svg.boundingBox()
        expect(box?.width).toBeGreaterThan(100)
        await page.close()
      }
    )
  })
})

describe("status page helpers", () => {
  it("formats lag for humans", () => {
    expect(formatLag(undefined)).toBe("never")
    expect(formatLag(45_000)).toBe("45s")
    expect(formatLag(12 * 60_000)).toBe("12m")
    expect(formatLag(3 * 3_600_000 + 5 * 60_000)).toBe("3h 5m")
    expect(formatLag(50 * 3_600_000)).toBe("2d 2h")
  })

  it("draws an empty chart before the first run", () => {
    expect(renderChart([])).toContain("No runs yet")
  })

  it("names erased accounts and what to do, and says when the erasure ledger cannot be read", () => {
    const view = { streams: [], runs: [], skipped: [], now: 0, draining: false }
    const erased = renderStatusPage({
      ...view,
      erasedAccounts: Result.succeed([
        { source: "shopify", account: "gone.myshopify.com", reason: "run kura-sync redact reinstate <&>" }
      ])
    })
    expect(erased).toContain('<ul id="erased"')
    expect(erased).toContain(
      "<b>gone.myshopify.com</b> is not synced: run kura-sync redact reinstate &lt;&amp;&gt;"
    )
    const unreadable = renderStatusPage({ ...view, erasedAccounts: Result.fail({ message: "IO Error" }) })
    expect(unreadable).toContain(
      "the erasure ledger could not be read, so no stream runs until it can: IO Error"
    )
    expect(renderStatusPage({ ...view, erasedAccounts: Result.succeed([]) })).not.toContain('id="erased"')
  })
})
