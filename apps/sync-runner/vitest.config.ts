import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Builds the app once for every test that drives the built kura-sync.
    globalSetup: ["test/globalSetup.ts"],
    // One worker runs every file in turn without re-importing Effect and our packages per file:
    // that re-import cost more CPU than most files' tests. No test mocks modules or stubs the env.
    isolate: false,
    // Two workers: most files wait on kura-sync processes, servers and the sandbox rather than
    // computing, and this suite is the longest in CI (alone for its last minutes on 2 cores).
    maxWorkers: 2,
    testTimeout: 120_000,
    hookTimeout: 120_000
  }
})
