import { existsSync, readFileSync } from "node:fs"
import { join, resolve } from "node:path"
import { describe, expect, it } from "vitest"

// No Docker engine runs here, so the Dockerfile is checked structurally against the repository.
const appDir = resolve(import.meta.dirname, "..")
const repo = resolve(appDir, "../..")
const text = readFileSync(join(appDir, "Dockerfile"), "utf8")

interface Instruction {
  readonly op: string
  readonly args: string
}
const instructions: Array<Instruction> = text
  .replace(/\\\n/g, " ")
  .split("\n")
  .map((l) => l.trim())
  .filter((l) => l !== "" && !l.startsWith("#"))
  .map((l) => {
    const [op, ...rest] = l.split(/\s+/)
    return { op: op!.toUpperCase(), args: rest.join(" ") }
  })

const stages: Array<{ image: string; name: string; body: Array<Instruction> }> = []
for (const i of instructions) {
  if (i.op === "FROM") {
    const m = /^(\S+)\s+AS\s+(\S+)$/i.exec(i.args)
    stages.push({ image: m?.[1] ?? i.args, name: m?.[2] ?? "", body: [] })
  } else stages.at(-1)?.body.push(i)
}
const runtime = stages.at(-1)!
const pkg = JSON.parse(readFileSync(join(appDir, "package.json"), "utf8"))

describe("apps/sync-runner/Dockerfile", () => {
  it("has a build and a runtime stage, both on Node 24 slim", () => {
    expect(stages.map((s) => s.name)).toEqual(["build", "runtime"])
    for (const s of stages) expect(s.image).toMatch(/^node:24(\.\d+)*-(bookworm-|trixie-)?slim$/)
  })

  it("runs as a non-root user in the runtime stage", () => {
    const users = runtime.body.filter((i) => i.op === "USER").map((i) => i.args)
    expect(users).toHaveLength(1)
    expect(users[0]).not.toMatch(/^(root|0)(:|$)/)
    // USER comes after every RUN, so the app never runs as root.
    const lastRun = runtime.body.map((i) => i.op).lastIndexOf("RUN")
    expect(runtime.body.findIndex((i) => i.op === "USER")).toBeGreaterThan(lastRun)
  })

  it("installs only the app's production dependencies in the runtime stage", () => {
    const runs = runtime.body.filter((i) => i.op === "RUN").map((i) => i.args)
    expect(
      runs.some((r) => /npm ci .*--omit=dev.* -w @kura\/sync-runner .*--include-workspace-root=false/.test(r))
    ).toBe(true)
  })

  it("copies only files that exist in the repository", () => {
    for (const s of stages)
      for (const i of s.body.filter((x) => x.op === "COPY" && !x.args.startsWith("--from"))) {
        const parts = i.args.split(/\s+/).filter((p) => !p.startsWith("--"))
        for (const source of parts.slice(0, -1)) expect(existsSync(join(repo, source)), source).toBe(true)
      }
  })

  it("copies every workspace manifest, as npm ci needs them to match the lock file", () => {
    const copied = runtime.body.filter((i) => i.op === "COPY").map((i) => i.args.split(/\s+/)[0])
    const lock = JSON.parse(readFileSync(join(repo, "package-lock.json"), "utf8"))
    const workspaces = Object.keys(lock.packages)
      .filter((k) => /^(packages|apps)\/[^/]+$/.test(k))
      .map((k) => `${k}/package.json`)
    expect(workspaces.length).toBeGreaterThan(0)
    for (const w of workspaces) expect(copied, w).toContain(w)
  })

  it("copies the built dist of the app and of every @kura package it depends on", () => {
    const fromBuild = runtime.body
      .filter((i) => i.op === "COPY" && i.args.startsWith("--from=build"))
      .map((i) => i.args.split(/\s+/)[1])
    expect(fromBuild).toContain("/repo/apps/sync-runner/dist")
    for (const dep of Object.keys(pkg.dependencies).filter((d) => d.startsWith("@kura/")))
      expect(fromBuild).toContain(`/repo/packages/${dep.slice("@kura/".length)}/dist`)
  })

  it("copies every published folder (package.json `files`) of the @kura packages the app depends on", () => {
    const fromBuild = runtime.body
      .filter((i) => i.op === "COPY" && i.args.startsWith("--from=build"))
      .map((i) => i.args.split(/\s+/)[1])
    for (const dep of Object.keys(pkg.dependencies).filter((d) => d.startsWith("@kura/"))) {
      const dir = `packages/${dep.slice("@kura/".length)}`
      const files: Array<string> =
        JSON.parse(readFileSync(join(repo, dir, "package.json"), "utf8")).files ?? []
      // Folders only: READMEs and changelogs are not needed at run time (e.g. the sandbox's schema/).
      for (const f of files.filter((x) => !/\.(md|txt)$/i.test(x) && x !== "dist"))
        if (existsSync(join(repo, dir, f))) expect(fromBuild, `${dir}/${f}`).toContain(`/repo/${dir}/${f}`)
    }
  })

  it("starts the built entry with the serve command", () => {
    const cmd = runtime.body.filter((i) => i.op === "CMD").map((i) => JSON.parse(i.args) as Array<string>)
    expect(cmd).toEqual([["node", "apps/sync-runner/dist/main.js", "serve"]])
    expect(`./${cmd[0]![1]!.slice("apps/sync-runner/".length)}`).toBe(pkg.bin["kura-sync"])
    expect(readFileSync(join(appDir, "tsup.config.ts"), "utf8")).toMatch(/entry: \[\s*"src\/main\.ts"/)
  })
})
