/**
 * Check 7, secrets: across the whole run, no configured secret value (every check registers the
 * tokens, keys and client secrets it configured) appears in any captured output: each check's
 * stdout/stderr, every child process's (kura-sync serve, loaders), the client log lines the
 * fault-equivalence check recorded, and the JSON results. Runs last (checks run in name order).
 */
import { readdirSync, readFileSync, statSync } from "node:fs"
import path from "node:path"
import { proofDir, runCheck } from "../lib.ts"

const CHECK = "secrets"

const filesUnder = (dir: string): Array<string> => {
  const out: Array<string> = []
  let names: Array<string> = []
  try {
    names = readdirSync(dir)
  } catch {
    return out
  }
  for (const name of names) {
    const file = path.join(dir, name)
    if (statSync(file).isDirectory()) out.push(...filesUnder(file))
    else out.push(file)
  }
  return out
}

await runCheck(CHECK, async () => {
  const secrets = new Set<string>()
  for (const file of filesUnder(path.join(proofDir, "secrets")))
    for (const line of readFileSync(file, "utf8").split("\n"))
      if (line.trim().length >= 6) secrets.add(line.trim())
  // Logs and client log captures only: the lake, DuckDB files and this check's own log are not output.
  const searched = [
    ...filesUnder(path.join(proofDir, "logs")).filter((f) => !path.basename(f).startsWith("07-")),
    ...filesUnder(path.join(proofDir, "work")).filter((f) => f.endsWith(".jsonl"))
  ]
  const leaks: Array<{ file: string; secretPrefix: string }> = []
  let bytes = 0
  for (const file of searched) {
    const text = readFileSync(file, "utf8")
    bytes += text.length
    for (const s of secrets)
      if (text.includes(s))
        leaks.push({ file: path.relative(proofDir, file), secretPrefix: `${s.slice(0, 4)}…` })
  }
  return {
    check: CHECK,
    pass: leaks.length === 0 && secrets.size > 0 && searched.length > 0,
    figure: `${leaks.length} leaks of ${secrets.size} secret values in ${searched.length} captured outputs (${Math.round(bytes / 1024)} KiB)`,
    details: { leaks, files: searched.map((f) => path.relative(proofDir, f)) }
  }
})
