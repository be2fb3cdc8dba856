/**
 * A request body read up to a byte limit. Dependency-free on purpose: the webhook intake thread
 * imports it as well as the main thread's HTTP service, and the thread loads no Effect code.
 */
import type { IncomingMessage } from "node:http"

/** Reads the body up to `limit` bytes; `undefined` means the limit was exceeded (answer 413). */
export const readBody = (req: IncomingMessage, limit: number): Promise<Uint8Array | undefined> =>
  new Promise((resolve, reject) => {
    const chunks: Array<Buffer> = []
    let size = 0
    let over = false
    req.on("data", (chunk: Buffer) => {
      if (over) return
      size += chunk.length
      if (size > limit) {
        over = true
        chunks.length = 0
        resolve(undefined)
        return
      }
      chunks.push(chunk)
    })
    req.on("end", () => {
      // One chunk (the common small webhook) needs no copy.
      if (!over) resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks))
    })
    req.on("error", reject)
  })
