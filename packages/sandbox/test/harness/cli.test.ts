import { spawn, spawnSync } from "node:child_process"
import path from "node:path"
import { fileURLToPath } from "node:url"
import { beforeAll, describe, expect, it } from "vitest"

const pkgDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..")
const outFile = path.join(pkgDir, ".tmp", "cli-test", "cli.mjs")

describe("kura-sandbox CLI", () => {
  beforeAll(() => {
    // The test target does not depend on this package's own build, so bundle the bin from source
    // exactly as tsup does (ESM, dependencies external).
    const r = spawnSync(
      "npx",
      [
        "esbuild",
        "src/cli.ts",
        "--bundle",
        "--platform=node",
        "--format=esm",
        "--packages=external",
        `--outfile=${outFile}`,
        "--log-level=error"
      ],
      {
        cwd: pkgDir,
        encoding: "utf8"
      }
    )
    if (r.status !== 0) throw new Error(`esbuild failed: ${r.stderr}`)
  })

  it("prints exactly one JSON line with every API's URL and credentials, serves, and exits 0 on SIGTERM", async () => {
    // Spawn Node itself (the Node 24 running this test) so the exit code is the CLI's own; `npx`
    // would die of the signal instead of reporting it.
    const child = spawn(
      process.execPath,
      [outFile, "--port", "0", "--seed", "3", "--orders", "120", "--faults", "none", "--time-scale", "10"],
      {
        cwd: pkgDir,
        stdio: ["ignore", "pipe", "pipe"]
      }
    )
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (c: Buffer) => {
      stdout += c.toString()
    })
    child.stderr.on("data", (c: Buffer) => {
      stderr += c.toString()
    })
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)))
    const deadline = Date.now() + 60_000
    while (!stdout.includes("\n") && Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`CLI exited early: ${stderr}`)
      await new Promise((r) => setTimeout(r, 50))
    }
    const line = JSON.parse(stdout.split("\n")[0] ?? "") as Record<string, Record<string, unknown>>
    expect(Object.keys(line)).toEqual(["shopify", "lightspeed", "stocky"])
    expect(line.shopify).toMatchObject({
      shopDomain: expect.any(String),
      accessToken: expect.any(String),
      clientId: expect.any(String),
      clientSecret: expect.any(String),
      webhookSecret: expect.any(String)
    })
    expect(line.lightspeed).toMatchObject({
      clientId: expect.any(String),
      clientSecret: expect.any(String),
      refreshToken: expect.any(String)
    })
    expect(line.stocky).toMatchObject({
      storeName: expect.any(String),
      apiKey: expect.any(String),
      webhookSecret: expect.any(String)
    })
    const stocky = line.stocky ?? {}
    const res = await fetch(`${String(stocky.baseUrl)}/api/v2/suppliers.json`, {
      headers: { "Store-Name": String(stocky.storeName), Authorization: `API KEY=${String(stocky.apiKey)}` }
    })
    expect(res.status).toBe(200)
    expect(((await res.json()) as { suppliers: Array<unknown> }).suppliers.length).toBeGreaterThan(0)
    child.kill("SIGTERM")
    expect(await exited).toBe(0)
    expect(stdout.trimEnd().split("\n")).toHaveLength(1)
  })

  it("rejects an unknown fault profile with exit code 2 and a message", () => {
    const r = spawnSync(process.execPath, [outFile, "--faults", "wild"], { cwd: pkgDir, encoding: "utf8" })
    expect(r.status).toBe(2)
    expect(r.stderr).toMatch(/--faults must be none, flaky or chaos/)
    expect(r.stdout).toBe("")
  })
})
