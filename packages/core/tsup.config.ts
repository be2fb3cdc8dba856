import { defineConfig } from "tsup"

export default defineConfig({
  // BoundedLaunch is its own entry (`@kura/core/bounded-launch`): it imports nothing, so an app
  // can re-exec itself bounded before loading effect and axios.
  entry: ["src/index.ts", "src/BoundedLaunch.ts"],
  format: ["esm", "cjs"],
  dts: true,
  sourcemap: true,
  clean: true,
  target: "node22"
})
