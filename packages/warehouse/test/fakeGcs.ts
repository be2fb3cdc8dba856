/**
 * A small in-memory fake of the GCS JSON API (node:http on 127.0.0.1), enough for
 * @google-cloud/storage to upload (multipart and resumable), list, download, stat and delete.
 * It records every request so tests can check what the adapter sent, and serves CRC32C/MD5 the
 * way GCS does (the client validates both). With `versioning` on, it keeps what GCS keeps on a
 * bucket with object versioning: a replaced or deleted object stays as a noncurrent generation
 * (`timeDeleted` set), listed only with `versions=true` and deleted only by its `generation`.
 */
import { createHash, randomUUID } from "node:crypto"
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { CRC32C } from "@google-cloud/storage"

export interface FakeObject {
  readonly name: string
  readonly data: Buffer
  readonly contentType: string
  readonly generation: number
  /** When this generation was written (GCS's `updated`). */
  readonly updated: string
  /** When it stopped being the live generation (noncurrent versions only). */
  readonly timeDeleted?: string
}

export interface RecordedRequest {
  readonly method: string
  readonly path: string
  readonly query: URLSearchParams
}

export interface FakeGcs {
  readonly endpoint: string
  /** The live generation of each object. */
  readonly objects: Map<string, FakeObject>
  /** Noncurrent generations (only kept with `versioning` on), oldest first. */
  readonly noncurrent: Array<FakeObject>
  /** Object versioning of the bucket (default off). */
  versioning: boolean
  readonly requests: Array<RecordedRequest>
  /** When set, downloads flip one byte but keep the stored object's hashes (bit rot in transit). */
  corruptDownloads: boolean
  readonly close: () => Promise<void>
}

const crc = (buf: Buffer) => {
  const c = new CRC32C()
  c.update(buf)
  return c.toString()
}
const md5 = (buf: Buffer) => createHash("md5").update(buf).digest("base64")

const readBody = (req: IncomingMessage) =>
  new Promise<Buffer>((resolve, reject) => {
    const parts: Array<Buffer> = []
    req.on("data", (c: Buffer) => parts.push(c))
    req.on("end", () => resolve(Buffer.concat(parts)))
    req.on("error", reject)
  })

/** Starts the fake for one bucket. */
export const startFakeGcs = async (bucket: string): Promise<FakeGcs> => {
  const objects = new Map<string, FakeObject>()
  const noncurrent: Array<FakeObject> = []
  const requests: Array<RecordedRequest> = []
  const pending = new Map<string, { name: string; contentType: string; chunks: Array<Buffer> }>()
  let generation = 1
  let endpoint = ""
  const fake: { -readonly [K in keyof FakeGcs]: FakeGcs[K] } = {
    endpoint: "",
    objects,
    noncurrent,
    versioning: false,
    requests,
    corruptDownloads: false,
    close: () => new Promise<void>((resolve) => server.close(() => resolve()))
  }

  const resource = (o: FakeObject) => ({
    kind: "storage#object",
    id: `${bucket}/${o.name}/${o.generation}`,
    name: o.name,
    bucket,
    generation: String(o.generation),
    contentType: o.contentType,
    size: String(o.data.length),
    crc32c: crc(o.data),
    md5Hash: md5(o.data),
    updated: o.updated,
    ...(o.timeDeleted === undefined ? {} : { timeDeleted: o.timeDeleted })
  })
  const json = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { "content-type": "application/json" })
    res.end(JSON.stringify(body))
  }
  const notFound = (res: ServerResponse, what: string) =>
    json(res, 404, {
      error: { code: 404, message: `No such object: ${what}`, errors: [{ reason: "notFound" }] }
    })
  const store = (name: string, data: Buffer, contentType: string) => {
    const o = { name, data, contentType, generation: generation++, updated: new Date().toISOString() }
    retire(name)
    objects.set(name, o)
    return o
  }
  /** The live generation stops being live: kept as noncurrent on a versioned bucket, gone otherwise. */
  function retire(name: string) {
    const live = objects.get(name)
    if (live === undefined) return
    objects.delete(name)
    if (fake.versioning) noncurrent.push({ ...live, timeDeleted: new Date().toISOString() })
  }

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://x")
    const path = url.pathname
    requests.push({ method: req.method ?? "", path, query: url.searchParams })
    const body = await readBody(req)
    const upload = new RegExp(`^/upload/storage/v1/b/${bucket}/o$`).exec(path)
    if (upload && req.method === "POST" && url.searchParams.get("uploadType") === "multipart") {
      const boundary = /boundary="?([^";]+)"?/.exec(req.headers["content-type"] ?? "")?.[1]
      if (!boundary) return json(res, 400, { error: { code: 400, message: "no multipart boundary" } })
      const text = body.toString("latin1")
      const parts = text.split(`--${boundary}`).slice(1, -1)
      const parsed = parts.map((p) => {
        const sep = p.indexOf("\r\n\r\n")
        return { headers: p.slice(0, sep), body: Buffer.from(p.slice(sep + 4, p.length - 2), "latin1") }
      })
      const meta = JSON.parse(parsed[0]?.body.toString("utf8") ?? "{}") as {
        name?: string
        contentType?: string
      }
      const name = url.searchParams.get("name") ?? meta.name
      if (!name || !parsed[1])
        return json(res, 400, { error: { code: 400, message: "missing name or media" } })
      const ct =
        /content-type:\s*([^\r\n]+)/i.exec(parsed[1].headers)?.[1] ??
        meta.contentType ??
        "application/octet-stream"
      return json(res, 200, resource(store(name, parsed[1].body, ct)))
    }
    if (upload && req.method === "POST" && url.searchParams.get("uploadType") === "resumable") {
      const meta = body.length
        ? (JSON.parse(body.toString("utf8")) as { name?: string; contentType?: string })
        : {}
      const name = url.searchParams.get("name") ?? meta.name
      if (!name) return json(res, 400, { error: { code: 400, message: "missing name" } })
      const id = randomUUID()
      pending.set(id, {
        name,
        contentType: String(
          req.headers["x-upload-content-type"] ?? meta.contentType ?? "application/octet-stream"
        ),
        chunks: []
      })
      res.writeHead(200, {
        location: `${endpoint}/upload/storage/v1/b/${bucket}/o?uploadType=resumable&upload_id=${id}`
      })
      return res.end()
    }
    if (upload && req.method === "PUT" && url.searchParams.has("upload_id")) {
      const up = pending.get(url.searchParams.get("upload_id") ?? "")
      if (!up) return notFound(res, "upload session")
      up.chunks.push(body)
      const range = String(req.headers["content-range"] ?? "")
      const total = /\/(\d+)$/.exec(range)?.[1]
      const have = up.chunks.reduce((n, c) => n + c.length, 0)
      if (total !== undefined && have < Number(total)) {
        res.writeHead(308, { range: `bytes=0-${have - 1}` })
        return res.end()
      }
      pending.delete(url.searchParams.get("upload_id") ?? "")
      return json(res, 200, resource(store(up.name, Buffer.concat(up.chunks), up.contentType)))
    }
    const m = new RegExp(`^(?:/storage/v1)?/b/${bucket}/o(?:/(.+))?$`).exec(path)
    if (m) {
      const name = m[1] === undefined ? undefined : decodeURIComponent(m[1])
      if (name === undefined && req.method === "GET") {
        const prefix = url.searchParams.get("prefix") ?? ""
        const versions = url.searchParams.get("versions") === "true"
        const items = [...objects.values(), ...(versions ? noncurrent : [])]
          .filter((o) => o.name.startsWith(prefix))
          .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.generation - b.generation))
        return json(res, 200, { kind: "storage#objects", items: items.map(resource) })
      }
      // A delete naming a generation removes that generation for good, live or noncurrent.
      const gen = url.searchParams.get("generation")
      if (req.method === "DELETE" && name !== undefined && gen !== null) {
        const live = objects.get(name)
        const old = noncurrent.findIndex((x) => x.name === name && String(x.generation) === gen)
        if (live !== undefined && String(live.generation) === gen) objects.delete(name)
        else if (old >= 0) noncurrent.splice(old, 1)
        else return notFound(res, `${name}#${gen}`)
        res.writeHead(204)
        return res.end()
      }
      const o = name === undefined ? undefined : objects.get(name)
      if (!o) return notFound(res, name ?? "")
      if (req.method === "DELETE") {
        retire(o.name)
        res.writeHead(204)
        return res.end()
      }
      if (req.method === "GET" && url.searchParams.get("alt") === "media") {
        res.writeHead(200, {
          "content-type": o.contentType,
          "content-length": String(o.data.length),
          "x-goog-hash": `crc32c=${crc(o.data)},md5=${md5(o.data)}`,
          "x-goog-generation": String(o.generation),
          "x-goog-stored-content-encoding": "identity"
        })
        const served = Buffer.from(o.data)
        if (fake.corruptDownloads && served.length > 0) served[0] = (served[0] ?? 0) ^ 0xff
        return res.end(served)
      }
      if (req.method === "GET") return json(res, 200, resource(o))
    }
    json(res, 501, { error: { code: 501, message: `fake GCS does not implement ${req.method} ${path}` } })
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => json(res, 500, { error: { code: 500, message: String(e) } }))
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  fake.endpoint = endpoint
  return fake
}
