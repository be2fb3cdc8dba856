import { defineConfig } from "tsup"

export default defineConfig({
  // src/cli.ts is the `kura-sandbox` bin (ESM, keeps its shebang); only the library gets types.
  entry: ["src/index.ts", "src/cli.ts"],
  format: ["esm", "cjs"],
  dts: { entry: "src/index.ts" },
  sourcemap: true,
  clean: true,
  target: "node22"
})
