/**
 * Draws a soak's memory samples (the `kura-soak-samples-*.json` file `bench/soak.ts` keeps) as an
 * SVG line chart: resident memory, the V8 heap in use, external memory and DuckDB's own memory
 * against minutes since the start. A chart shows at a glance what the summary lines compress:
 * whether memory levels off or keeps climbing.
 *
 *   npx node scripts/proof/soakChart.ts <samples.json> <out.svg> [--title "…"]
 */
import { readFileSync, writeFileSync } from "node:fs"

/** One sample of the service's memory as the soak keeps it (MiB; `at` in epoch ms). */
export interface Sample {
  readonly at: number
  /** Resident memory (`/proc/<pid>/status`). */
  readonly rss: number
  /** From the service's /metrics: the V8 heap in use, external memory, and DuckDB's own memory (all tags). */
  readonly heap?: number
  /** The V8 heap reserved (used plus garbage not yet collected and free pages). */
  readonly heapTotal?: number
  readonly external?: number
  readonly duckdb?: number
}

const isSample = (v: unknown): v is Sample =>
  typeof v === "object" &&
  v !== null &&
  typeof (v as { at?: unknown }).at === "number" &&
  typeof (v as { rss?: unknown }).rss === "number"

const SERIES = [
  { key: "rss", label: "resident (RSS)", color: "#1f5fa8" },
  { key: "duckdb", label: "DuckDB (duckdb_memory)", color: "#c0392b" },
  { key: "heapTotal", label: "V8 heap reserved", color: "#7fbf8f" },
  { key: "heap", label: "V8 heap in use", color: "#27864a" },
  { key: "external", label: "external (buffers)", color: "#8e6c1f" }
] as const

const xmlText = (text: string) => text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")

/** The chart of `samples` as SVG text. */
export const soakChart = (samples: ReadonlyArray<Sample>, title: string): string => {
  const first = samples[0]
  const last = samples.at(-1)
  if (first === undefined || last === undefined) throw new Error("no samples to draw")
  const width = 900
  const height = 420
  const pad = { left: 60, right: 20, top: 40, bottom: 70 }
  const minutes = Math.max(1, (last.at - first.at) / 60_000)
  const top = Math.ceil(Math.max(...samples.map((s) => s.rss)) / 100) * 100
  const x = (at: number) => pad.left + ((at - first.at) / 60_000 / minutes) * (width - pad.left - pad.right)
  const y = (mib: number) => height - pad.bottom - (mib / top) * (height - pad.top - pad.bottom)
  const parts: Array<string> = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<title>${xmlText(title)}</title>`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${pad.left}" y="22" font-size="13">${xmlText(title.length > 120 ? `${title.slice(0, 117)}…` : title)}</text>`
  ]
  for (let mib = 0; mib <= top; mib += 100) {
    parts.push(
      `<line x1="${pad.left}" x2="${width - pad.right}" y1="${y(mib)}" y2="${y(mib)}" stroke="#ddd"/>`,
      `<text x="${pad.left - 8}" y="${y(mib) + 4}" text-anchor="end">${mib}</text>`
    )
  }
  const step = minutes > 60 ? 15 : minutes > 20 ? 5 : 1
  for (let m = 0; m <= minutes; m += step)
    parts.push(
      `<text x="${x(first.at + m * 60_000)}" y="${height - pad.bottom + 18}" text-anchor="middle">${m}</text>`
    )
  parts.push(
    `<text x="${(pad.left + width - pad.right) / 2}" y="${height - pad.bottom + 36}" text-anchor="middle">minutes</text>`,
    `<text x="16" y="${(pad.top + height - pad.bottom) / 2}" transform="rotate(-90 16 ${(pad.top + height - pad.bottom) / 2})" text-anchor="middle">MiB</text>`
  )
  let legendX = pad.left
  for (const series of SERIES) {
    const points = samples.flatMap((s) => {
      const v = s[series.key]
      return v === undefined ? [] : [`${x(s.at).toFixed(1)},${y(v).toFixed(1)}`]
    })
    if (points.length > 1)
      parts.push(
        `<polyline fill="none" stroke="${series.color}" stroke-width="1.5" points="${points.join(" ")}"/>`
      )
    parts.push(
      `<line x1="${legendX}" x2="${legendX + 20}" y1="${height - 16}" y2="${height - 16}" stroke="${series.color}" stroke-width="3"/>`,
      `<text x="${legendX + 26}" y="${height - 12}">${xmlText(series.label)}</text>`
    )
    // ~6.5 px a character at 12 px sans-serif, and a gap.
    legendX += 26 + series.label.length * 6.5 + 24
  }
  parts.push("</svg>")
  return `${parts.join("\n")}\n`
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [input, output] = process.argv.slice(2)
  if (input === undefined || output === undefined) {
    console.error('usage: npx node scripts/proof/soakChart.ts <samples.json> <out.svg> [--title "…"]')
    process.exit(2)
  }
  const at = process.argv.indexOf("--title")
  const raw: unknown = JSON.parse(readFileSync(input, "utf8"))
  if (!Array.isArray(raw) || !raw.every(isSample)) {
    console.error(`${input}: not a soak samples file (an array of { at, rss, … })`)
    process.exit(2)
  }
  writeFileSync(
    output,
    soakChart(raw, at > 0 ? (process.argv[at + 1] ?? "") : `kura-sync serve soak: ${input}`)
  )
  console.log(`wrote ${output} (${raw.length} samples)`)
}
