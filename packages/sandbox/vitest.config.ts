import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // One worker runs every file in turn without re-importing Effect and our packages per file:
    // that re-import cost more CPU than most files' tests. No test mocks modules or stubs the env.
    isolate: false,
    testTimeout: 60_000,
    hookTimeout: 60_000
  }
})
