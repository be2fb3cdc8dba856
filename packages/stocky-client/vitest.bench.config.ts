import { defineConfig } from "vitest/config"

/** Benchmarks: run with `npm run bench -w @kura/stocky-client`; they print numbers, they do not assert timings. */
export default defineConfig({
  test: {
    include: ["bench/**/*.bench.ts"],
    testTimeout: 600_000,
    hookTimeout: 120_000,
    fileParallelism: false
  }
})
