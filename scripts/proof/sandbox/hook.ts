/**
 * `node --import scripts/proof/sandbox/hook.ts dist/main.js run`: points the process's
 * `@kura/sandbox` import at wrap.ts (the real sandbox with the proof's fault, mutation and
 * call-counting options). Everything else resolves as usual.
 */
import { registerHooks } from "node:module"
import { pathToFileURL } from "node:url"

const wrapper = pathToFileURL(new URL("wrap.ts", import.meta.url).pathname).href

registerHooks({
  resolve(specifier, context, nextResolve) {
    if (specifier === "@kura/sandbox" && !context.parentURL?.endsWith("/sandbox/wrap.ts"))
      return { url: wrapper, shortCircuit: true, format: "module-typescript" }
    return nextResolve(specifier, context)
  }
})
