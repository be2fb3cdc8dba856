/**
 * The resolved configuration as a service, so the auth and client services share one validated
 * copy. Build it from values (`layer`) or from environment variables through Effect Config
 * (`layerConfig`); libraries never read `process.env` themselves.
 */

import type { Config } from "effect"
import { Context, Effect, Layer } from "effect"
import {
  configFromEnv,
  type LightspeedConfig,
  type LightspeedConfigError,
  type LightspeedConfigInput,
  makeConfig
} from "./LightspeedConfig.js"

/** Holds the validated `LightspeedConfig`. */
export class LightspeedConfigService extends Context.Service<LightspeedConfigService, LightspeedConfig>()(
  "@kura/lightspeed-client/LightspeedConfigService"
) {
  /** Validates `input` (fails with `LightspeedConfigError` naming the field) and provides it. */
  static readonly layer = (
    input: LightspeedConfigInput
  ): Layer.Layer<LightspeedConfigService, LightspeedConfigError> =>
    Layer.effect(LightspeedConfigService, makeConfig(input))

  /** Reads `LIGHTSPEED_*` settings through Effect Config (see `configFromEnv`), then validates them. */
  static readonly layerConfig: Layer.Layer<
    LightspeedConfigService,
    LightspeedConfigError | Config.ConfigError
  > = Layer.effect(LightspeedConfigService, Effect.flatMap(configFromEnv, makeConfig))
}
