import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Builds the app once for every test that drives the built kura-sync.
    globalSetup: ["test/globalSetup.ts"],
    // One worker runs every file in turn without re-importing Effect and our packages per file:
    // that re-import cost more CPU than most files' tests. No test mocks modules or stubs the env.
    isolate: false,
    testTimeout: 120_000,
    hookTimeout: 120_000
  }
})
