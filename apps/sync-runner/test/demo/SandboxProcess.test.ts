import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { startSandbox } from "@kura/sandbox"
import { afterAll, describe, expect, inject, it } from "vitest"
import { demoTruthOf } from "../../src/demo/DemoSandbox.js"
import { runDemo } from "../../src/demo/runDemo.js"
import { startSandboxProcess } from "../../src/demo/SandboxProcess.js"

// The child runs the BUILT demo script (built once per run by globalSetup), as `npm run demo` does.
const script = join(inject("builtAppDir"), "demo.js")
const dir = mkdtempSync(join(tmpdir(), "kura-demo-child-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const options = { seed: 11, scale: 150, historyDays: 10, timeScale: 20, anchor: Date.UTC(2026, 10, 20) }

const alive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

describe("the demo's sandbox in a child process", () => {
  it("serves the same merchant and ground truth as an in-process sandbox, and exits on close", async () => {
    const child = await startSandboxProcess({ script, execArgv: ["--max-old-space-size=128"] }, options)
    const local = await startSandbox(options)
    try {
      expect(child.pid).toBeGreaterThan(0)
      expect(child.pid).not.toBe(process.pid)
      expect(child.merchant).toEqual({
        orders: 150,
        historyDays: 10,
        anchor: options.anchor,
        tax: local.merchant.options.tax
      })
      expect(child.shopify.baseUrl).not.toBe(local.shopify.baseUrl)
      expect(await child.truth()).toEqual(demoTruthOf(local))
      // A mutation happens in the child: the ground truth changes there, as it does locally.
      const before = await child.truth()
      await child.mutate(0.2)
      local.mutate({ fraction: 0.2 })
      const after = await child.truth()
      expect(after).toEqual(demoTruthOf(local))
      expect(after).not.toEqual(before)
    } finally {
      await child.close()
      await local.close()
    }
    expect(alive(child.pid ?? 0)).toBe(false)
  })

  it("runs the demo twice against it: full, then incremental, both matching the ground truth", async () => {
    const common = {
      warehousePath: join(dir, "kura.duckdb"),
      lakeDir: join(dir, "lake"),
      scale: options.scale,
      seed: options.seed,
      historyDays: options.historyDays,
      anchor: options.anchor,
      sandboxProcess: { script },
      progress: () => {}
    }
    const first = await runDemo(common)
    expect(first.incremental).toBe(false)
    expect(first.streams.filter((s) => s.status !== "ok")).toEqual([])
    expect(first.reconciliation.matchesGroundTruth).toBe(true)
    expect(first.reconciliation.otherDifferences).toEqual([])
    const second = await runDemo({ ...common, mutateFraction: 0.05 })
    expect(second.incremental).toBe(true)
    expect(second.reconciliation.matchesGroundTruth).toBe(true)
    expect(second.reconciliation.otherDifferences).toEqual([])
  })
})
