import { defineConfig } from "tsup"

export default defineConfig({
  entry: ["src/main.ts"],
  format: ["esm"],
  dts: false,
  sourcemap: true,
  clean: true,
  target: "node22",
  // Runs as a program; main.ts re-executes node bounded (`@kura/core/bounded-launch`).
  banner: { js: "#!/usr/bin/env node" }
})
