import { defineConfig } from "tsup"

export default defineConfig({
  entry: ["src/main.ts"],
  format: ["esm"],
  dts: false,
  sourcemap: true,
  clean: true,
  target: "node22",
  // A shell/JS polyglot: run as a program, sh re-executes node with a bounded old-space heap
  // (KURA_NODE_HEAP_MB, default 192: the live set is under 100 MB, the rest was uncollected
  // garbage as V8 sized the heap from the machine's RAM) and two malloc arenas (DuckDB's threads
  // otherwise fragment one arena each). `node dist/main.js` ignores both lines.
  banner: {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell parameter expansion, not a template
    js: '#!/bin/sh\n":" //; MALLOC_ARENA_MAX="${MALLOC_ARENA_MAX:-2}" exec node --max-old-space-size="${KURA_NODE_HEAP_MB:-192}" "$0" "$@"'
  }
})
