/**
 * Check 1, fault equivalence (per client until the sync-runner's source streams land): every
 * stream of Stocky, Lightspeed and Shopify pulled with our clients from a sandbox under the `chaos`
 * fault profile gives the same record set (count + order-independent content hash per table) as
 * the same merchant served fault-free. Prints how many faults of each kind were injected.
 */
import { writeFileSync } from "node:fs"
import path from "node:path"
import { proofSandbox, pullAll } from "../clients.ts"
import { faultSummary, quick, registerSecrets, runCheck, setHash, workDir } from "../lib.ts"

const CHECK = "fault-equivalence"

await runCheck(CHECK, async () => {
  const scale = quick ? 300 : 2000
  const pull = async (faults: "none" | "chaos") => {
    const sandbox = await proofSandbox({ scale, faults })
    const c = sandbox
    registerSecrets(CHECK, [
      c.shopify.credentials.accessToken,
      c.shopify.credentials.clientSecret,
      c.shopify.credentials.webhookSecret,
      c.lightspeed.credentials.clientSecret,
      c.lightspeed.credentials.refreshToken,
      c.stocky.credentials.apiKey
    ])
    try {
      const started = Date.now()
      const pulled = await pullAll(sandbox)
      writeFileSync(path.join(workDir(CHECK), `client-logs-${faults}.jsonl`), pulled.logLines.join("\n"))
      const hashes = Object.fromEntries([...pulled.tables].map(([t, rows]) => [t, setHash(rows)]))
      return { hashes, faults: sandbox.faultReport(), seconds: (Date.now() - started) / 1000 }
    } finally {
      await sandbox.close()
    }
  }
  const clean = await pull("none")
  const chaos = await pull("chaos")
  const tables = Object.keys(clean.hashes)
  const differing = tables.filter(
    (t) =>
      clean.hashes[t]?.hash !== chaos.hashes[t]?.hash || clean.hashes[t]?.count !== chaos.hashes[t]?.count
  )
  const injected = Object.values(chaos.faults).reduce(
    (n, kinds) => n + Object.values(kinds).reduce((a, b) => a + b, 0),
    0
  )
  const rows = tables.reduce((n, t) => n + (clean.hashes[t]?.count ?? 0), 0)
  const empty = tables.filter((t) => (clean.hashes[t]?.count ?? 0) === 0)
  return {
    check: CHECK,
    pass: differing.length === 0 && injected > 0 && tables.length > 0,
    figure: `${tables.length - differing.length}/${tables.length} tables identical (${rows} rows) after ${injected} injected faults survived [${faultSummary(chaos.faults)}]`,
    details: { scale, clean, chaos, differing, emptyTables: empty }
  }
})
