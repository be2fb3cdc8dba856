import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { createServer, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { HttpTransport } from "@kura/core"
import { Effect, Exit, Stream } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as BulkDownload from "../src/BulkDownload.js"
import type { BulkOperation } from "../src/ShopifyBulk.js"

/**
 * A file server standing in for the signed GCS URL of a bulk result: `/range/*` honours `Range`,
 * `/plain/*` ignores it; `drop=N` cuts the connection after N bytes on the first N requests.
 */
let base = ""
let close: () => void = () => {}
const dir = mkdtempSync(join(tmpdir(), "kura-bulk-download-"))
const lines = Array.from(
  { length: 400 },
  (_, i) => `{"id":"gid://shopify/Order/${i}","name":"#${i}","note":"${"é".repeat(i % 13)}"}`
)
const body = Buffer.from(`${lines.join("\n")}\n`)
const requests: Array<{ url: string; range: string | null }> = []
let drops = 0

beforeAll(async () => {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://x")
    requests.push({ url: url.pathname, range: req.headers.range ?? null })
    const ranged = url.pathname.startsWith("/range/")
    const dropAt = Number(url.searchParams.get("drop") ?? 0)
    let start = 0
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? "")
    if (ranged && m !== null) start = Number(m[1])
    const slice = body.subarray(start)
    const headers: Record<string, string> = {
      "content-type": "application/jsonl",
      "content-length": String(slice.byteLength)
    }
    if (ranged && start > 0) {
      headers["content-range"] = `bytes ${start}-${body.byteLength - 1}/${body.byteLength}`
      res.writeHead(206, headers)
    } else res.writeHead(200, headers)
    if (dropAt > 0 && drops < 2) {
      drops++
      // Half a body, then a reset: the client sees a broken transfer, not a clean end.
      const cut = Math.min(slice.byteLength - 1, dropAt)
      res.write(slice.subarray(0, cut), () => setTimeout(() => res.socket?.destroy(), 5))
      return
    }
    dribble(res, slice)
  })
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  close = () => server.close()
})
afterAll(() => {
  close()
  rmSync(dir, { recursive: true, force: true })
})

const dribble = (res: ServerResponse, data: Buffer) => {
  let i = 0
  const step = () => {
    if (i >= data.byteLength) return void res.end()
    res.write(data.subarray(i, i + 4096))
    i += 4096
    setImmediate(step)
  }
  step()
}

const op = (over: Partial<BulkOperation>): BulkOperation => ({
  id: "gid://shopify/BulkOperation/9",
  status: "COMPLETED",
  errorCode: null,
  createdAt: "2026-01-01T00:00:00Z",
  completedAt: "2026-01-01T00:01:00Z",
  objectCount: String(lines.length),
  rootObjectCount: String(lines.length),
  fileSize: String(body.byteLength),
  url: null,
  partialDataUrl: null,
  type: "QUERY",
  ...over
})

const run = <A, E>(effect: Effect.Effect<A, E, HttpTransport>) =>
  Effect.runPromiseExit(effect.pipe(Effect.provide(HttpTransport.layer())))

describe("BulkDownload", () => {
  it("writes the result byte for byte and counts its lines against objectCount", async () => {
    const file = join(dir, "a.jsonl")
    const exit = await run(BulkDownload.downloadTo(op({ url: `${base}/plain/a.jsonl` }), file))
    expect(Exit.isSuccess(exit)).toBe(true)
    if (Exit.isSuccess(exit)) {
      expect(exit.value.lines).toBe(lines.length)
      expect(exit.value.bytes).toBe(body.byteLength)
      expect(exit.value.attempts).toBe(1)
    }
    expect(readFileSync(file).equals(body)).toBe(true)
  })

  it("resumes a dropped transfer with Range and keeps the bytes already written", async () => {
    drops = 0
    requests.length = 0
    const file = join(dir, "b.jsonl")
    const exit = await run(
      BulkDownload.downloadTo(op({ url: `${base}/range/b.jsonl?drop=6000` }), file, { retryMillis: 10 })
    )
    expect(Exit.isSuccess(exit)).toBe(true)
    expect(readFileSync(file).equals(body)).toBe(true)
    if (Exit.isSuccess(exit)) {
      expect(exit.value.attempts).toBe(3)
      expect(exit.value.resumedBytes).toBeGreaterThan(0)
    }
    const ranges = requests.filter((r) => r.url === "/range/b.jsonl").map((r) => r.range)
    expect(ranges[0]).toBeNull()
    expect(ranges[1]).toMatch(/^bytes=\d+-$/)
  })

  it("restarts from zero when the server ignores Range (no duplicated bytes)", async () => {
    drops = 0
    const file = join(dir, "c.jsonl")
    const exit = await run(
      BulkDownload.downloadTo(op({ url: `${base}/plain/c.jsonl?drop=5000` }), file, { retryMillis: 10 })
    )
    expect(Exit.isSuccess(exit)).toBe(true)
    expect(readFileSync(file).equals(body)).toBe(true)
    if (Exit.isSuccess(exit)) expect(exit.value.resumedBytes).toBe(0)
  })

  it("fails with DataLoss when the line count differs from objectCount", async () => {
    const file = join(dir, "d.jsonl")
    const exit = await run(
      BulkDownload.downloadTo(op({ url: `${base}/plain/d.jsonl`, objectCount: "401" }), file)
    )
    expect(Exit.isFailure(exit)).toBe(true)
    const e = Exit.isFailure(exit) ? Exit.findErrorOption(exit) : undefined
    expect(e?._tag === "Some" ? e.value.reason._tag : null).toBe("DataLoss")
  })

  it("a COMPLETED job with objects but no URL is DataLoss; partial data has no count to check", async () => {
    const noUrl = await run(BulkDownload.downloadTo(op({}), join(dir, "e.jsonl")))
    const e = Exit.isFailure(noUrl) ? Exit.findErrorOption(noUrl) : undefined
    expect(e?._tag === "Some" ? e.value.reason._tag : null).toBe("DataLoss")
    const partial = await run(
      BulkDownload.downloadTo(
        op({ status: "FAILED", objectCount: "999", partialDataUrl: `${base}/plain/f.jsonl` }),
        join(dir, "f.jsonl")
      )
    )
    expect(Exit.isSuccess(partial)).toBe(true)
    if (Exit.isSuccess(partial)) {
      expect(partial.value.partial).toBe(true)
      expect(partial.value.lines).toBe(lines.length)
    }
  })

  it("download streams the raw bytes of one attempt", async () => {
    const exit = await run(
      BulkDownload.download(op({ url: `${base}/plain/g.jsonl` })).pipe(
        Stream.runFold(
          () => 0,
          (n, c) => n + c.byteLength
        )
      )
    )
    expect(exit).toEqual(Exit.succeed(body.byteLength))
  })
})
