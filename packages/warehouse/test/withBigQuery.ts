/**
 * A BigQuery warehouse over the fake BigQuery and GCS servers, for one test: started before the
 * test's effect, closed after it whatever its outcome.
 */
import { BigQuery } from "@google-cloud/bigquery"
import { Storage } from "@google-cloud/storage"
import { Effect } from "effect"
import { OAuth2Client } from "google-auth-library"
import { BigQueryWarehouse, type Warehouse } from "../src/index.js"
import { type FakeBigQuery, startFakeBigQuery } from "./fakeBigQuery.js"
import { type FakeGcs, startFakeGcs } from "./fakeGcs.js"

/** A stub credential: the BigQuery client authenticates even on a custom endpoint. */
const authClient = (): OAuth2Client => {
  const c = new OAuth2Client()
  c.setCredentials({ access_token: "fake-token", expiry_date: Date.now() + 3_600_000 })
  return c
}

/** The fake servers a test may inspect (recorded queries, stored objects). */
export interface Fakes {
  readonly bq: FakeBigQuery
  readonly gcs: FakeGcs
}

/** Runs `f` against `BigQueryWarehouse` on project `demo-proj`, dataset `kura`, bucket `kura-lake`. */
export const withBigQuery = <A, E>(f: (fakes: Fakes) => Effect.Effect<A, E, Warehouse>) =>
  Effect.acquireUseRelease(
    Effect.promise(async () => {
      const gcs = await startFakeGcs("kura-lake")
      const bq = await startFakeBigQuery("demo-proj", "kura", gcs)
      return { gcs, bq }
    }),
    (fakes) =>
      Effect.provide(
        f(fakes),
        BigQueryWarehouse.layer({
          projectId: "demo-proj",
          dataset: "kura",
          location: "US",
          stagingBucket: "kura-lake",
          stagingPrefix: "prod",
          bigquery: new BigQuery({
            projectId: "demo-proj",
            apiEndpoint: fakes.bq.endpoint,
            authClient: authClient()
          }),
          storage: new Storage({ projectId: "demo-proj", apiEndpoint: fakes.gcs.endpoint })
        })
      ),
    ({ gcs, bq }) => Effect.promise(() => Promise.all([gcs.close(), bq.close()]))
  )
