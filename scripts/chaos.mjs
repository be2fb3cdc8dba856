#!/usr/bin/env node
// `npm run chaos [-- --quick] [-- --only name1,name2] [-- --report FILE] [-- --jobs N]`: the
// reliability suite. Runs every scripts/proof/checks/*.ts as its own Node 24 process (type stripping; the
// checks import our packages' BUILT dists, so build first), prints one line per check with its
// figure and PASS/FAIL, writes a JSON report, and exits 1 if any check failed. Every check's and
// every child process's output is captured under the run directory, which the last check
// (secrets) searches for every secret value the checks configured.
import { spawn, spawnSync } from "node:child_process"
import { createWriteStream, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from "node:fs"
import os from "node:os"
import path from "node:path"

const args = process.argv.slice(2)
const quick = args.includes("--quick")
const argValue = (name) => {
  const i = args.indexOf(name)
  return i >= 0 ? args[i + 1] : undefined
}
const only = argValue("--only")?.split(",")
const root = path.resolve(import.meta.dirname, "..")

// Type stripping needs Node ≥ 22.18; under `npm run` or `npx node` this Node is the repo's 24.
const major = Number(process.versions.node.split(".")[0])
let nodeCmd = [process.execPath]
if (major < 23) {
  const found = spawnSync("npx", ["node", "-p", "process.execPath"], { cwd: root, encoding: "utf8" })
  const execPath = found.stdout?.trim()
  if (found.status !== 0 || !execPath) {
    console.error("kura chaos: Node 24 not found; run `npm run chaos` or `npx node scripts/chaos.mjs`")
    process.exit(2)
  }
  nodeCmd = [execPath]
}

const runDir = mkdtempSync(path.join(os.tmpdir(), "kura-chaos-"))
mkdirSync(path.join(runDir, "logs"), { recursive: true })
const reportFile = path.resolve(argValue("--report") ?? path.join(runDir, "chaos-report.json"))
const checksDir = path.join(root, "scripts/proof/checks")
const checks = readdirSync(checksDir)
  .filter((f) => f.endsWith(".ts"))
  .sort()
  .filter((f) => !only || only.some((o) => f.includes(o)))

const machine = `${os.cpus().length}× ${os.cpus()[0]?.model ?? "cpu"}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.platform()} ${os.release()}`
console.log(`kura chaos: ${quick ? "quick" : "full"} run, ${checks.length} checks, on ${machine}`)
console.log(`kura chaos: logs in ${runDir}`)

const MARKER = "KURA_PROOF_RESULT "
const runOne = (file) =>
  new Promise((resolve) => {
    const name = file.replace(/\.ts$/, "")
    const log = createWriteStream(path.join(runDir, "logs", `${name}.log`))
    const started = Date.now()
    const child = spawn(nodeCmd[0], ["--disable-warning=ExperimentalWarning", path.join(checksDir, file)], {
      cwd: root,
      env: {
        ...process.env,
        KURA_PROOF_DIR: runDir,
        KURA_PROOF_QUICK: quick ? "1" : "0",
        NODE_NO_WARNINGS: "1"
      },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let out = ""
    child.stdout.on("data", (c) => {
      out += c.toString("utf8")
      log.write(c)
      if (process.env.KURA_PROOF_VERBOSE === "1") process.stdout.write(c)
    })
    child.stderr.on("data", (c) => {
      log.write(c)
      if (process.env.KURA_PROOF_VERBOSE === "1") process.stderr.write(c)
    })
    child.on("exit", (code, signal) => {
      log.end()
      const seconds = (Date.now() - started) / 1000
      const line = out.split("\n").findLast((l) => l.startsWith(MARKER))
      let result
      try {
        result = line ? JSON.parse(line.slice(MARKER.length)) : undefined
      } catch {
        result = undefined
      }
      if (!result) result = { check: name, pass: false, figure: `no result (exit ${code ?? signal})` }
      if (code !== 0 && result.pass)
        result = { ...result, pass: false, figure: `${result.figure} (exit ${code})` }
      resolve({ ...result, file, seconds })
    })
  })

// Checks run `--jobs` at a time (quick: 2, so CI's reliability step takes about half as long;
// full: 1, so the timings the checks print are not shared with another check). Each check works in
// its own directory and ports. The secrets check runs alone, last: it searches everything the
// others captured.
const jobs = Math.max(1, Number(argValue("--jobs") ?? (quick ? 2 : 1)))
const isLast = (f) => f.includes("secrets")
const results = []
const report1 = (r) => {
  results.push(r)
  console.log(
    `${r.skipped ? "SKIP" : r.pass ? "PASS" : "FAIL"}  ${r.check.padEnd(20)} ${r.figure}  (${r.seconds.toFixed(1)} s)`
  )
}
const queue = checks.filter((f) => !isLast(f))
await Promise.all(
  Array.from({ length: Math.min(jobs, queue.length) }, async () => {
    for (let file = queue.shift(); file !== undefined; file = queue.shift()) report1(await runOne(file))
  })
)
for (const file of checks.filter(isLast)) report1(await runOne(file))
results.sort((a, b) => a.file.localeCompare(b.file))
const failed = results.filter((r) => !r.pass)
const skipped = results.filter((r) => r.skipped).length
const report = {
  kind: quick ? "quick" : "full",
  at: new Date().toISOString(),
  machine,
  node: process.versions.node,
  runDir,
  passed: results.length - failed.length - skipped,
  skipped,
  failed: failed.length,
  results
}
writeFileSync(reportFile, `${JSON.stringify(report, null, 2)}\n`)
console.log(
  `kura chaos: ${report.passed}/${results.length} passed${skipped > 0 ? `, ${skipped} skipped` : ""}; report ${reportFile}`
)
process.exit(failed.length === 0 && results.length > 0 ? 0 : 1)
