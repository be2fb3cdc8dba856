/**
 * The cross-channel SKU link: SKUs that differ only in case and surrounding whitespace link one
 * item across Shopify and the POS; a manual override wins; a SKU two variants of one account
 * share is reported and links nothing (its stock is checked per variant, no POS sale is placed
 * on a guess).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import {
  bigQueryDialect,
  buildLocationMap,
  buildSkuMap,
  type CanonicalRow,
  DuckDbWarehouse,
  nfkcSql,
  normalizeSku,
  normalizeSkuSql,
  Warehouse
} from "../src/index.js"
import { level, movement } from "./fixtures.js"

const SHOP = "kura-matcha.myshopify.com"
const POS = "ls-business-1"
const ctx = { syncedAt: "2026-01-10T00:00:00Z", batchId: "b-sku" }

const variant = (source: "shopify" | "lightspeed", id: string, sku: string): CanonicalRow<"variants"> => ({
  source,
  source_account: source === "shopify" ? SHOP : POS,
  source_id: id,
  updated_at: "2026-01-01T00:00:00Z",
  _synced_at: ctx.syncedAt,
  _batch_id: ctx.batchId,
  _deleted_at: null,
  product_id: null,
  sku,
  barcode: null,
  title: null,
  inventory_item_id: null,
  currency: null,
  price: null,
  cost: null
})

/** A Shopify on_hand snapshot of variant `id` at loc-1. */
const snap = (id: string, sku: string, at: string, quantity: number) => ({
  ...level(sku, "loc-1", at, quantity),
  source_id: `${id}:loc-1:on_hand`,
  variant_id: id
})

/** A movement of `variantId` in `source` (POS sales at the POS location pos-1). */
const move = (
  source: "shopify" | "lightspeed",
  id: string,
  variantId: string,
  sku: string,
  quantity: number,
  at: string
) => ({
  ...movement(id, sku, source === "shopify" ? "loc-1" : "pos-1", "sale", quantity, at),
  source,
  source_account: source === "shopify" ? SHOP : POS,
  variant_id: variantId
})

describe("sku_map across channels", () => {
  it("normalizeSku: case, surrounding and repeated whitespace", () => {
    assert.strictEqual(normalizeSku(" abc-1 "), "ABC-1")
    assert.strictEqual(normalizeSku("ABC-1"), "ABC-1")
    assert.strictEqual(normalizeSku("\tabc  1\n"), "ABC 1")
  })

  it("normalizeSku: full-width and other compatibility forms fold to ASCII (NFKC), ASCII unchanged", () => {
    assert.strictEqual(normalizeSku("ＡＢＣ１２３"), "ABC123")
    assert.strictEqual(normalizeSku("\u3000ｍａｔｃｈａ－１００\u3000"), "MATCHA-100")
    assert.strictEqual(normalizeSku("ﬁne\u00a0tea"), "FINE TEA")
    assert.strictEqual(normalizeSku("ｶﾌﾞｾ"), "カブセ")
    for (const ascii of ["ABC-1", "xyz_9/2", "A.B+C"])
      assert.strictEqual(normalizeSku(ascii), ascii.toUpperCase())
  })

  it.effect("nfkcSql folds the full-width ASCII block and the ideographic space as NFKC does", () =>
    Effect.gen(function* () {
      const w = yield* Warehouse
      const block = Array.from({ length: 0x5e }, (_, i) => String.fromCharCode(0xff01 + i)).join("")
      for (const sample of [block, "\u3000ｍａｔｃｈａ－１００\u3000", "ＡＢＣ＇１２＼３", "ABC-1 'x'", ""]) {
        const [row] = yield* w.query(`SELECT ${nfkcSql(w.dialect, "$s")} AS n`, { s: sample })
        assert.strictEqual(row?.n, sample.normalize("NFKC"), JSON.stringify(sample))
      }
      assert.strictEqual(nfkcSql(bigQueryDialect("kura-prod", "kura"), "x"), "NORMALIZE(x, NFKC)")
    }).pipe(Effect.provide(DuckDbWarehouse.layerMemory))
  )

  it.effect(
    "a full-width POS SKU links to the store's ASCII SKU; a full-width manual override still wins",
    () =>
      Effect.gen(function* () {
        const w = yield* Warehouse
        yield* w.migrate
        const skuMap = [
          ...buildSkuMap(
            [variant("shopify", "v1", "MATCHA-100"), variant("shopify", "v2", "HOJI-7")],
            [],
            ctx
          ),
          ...buildSkuMap(
            [variant("lightspeed", "i1", "ｍａｔｃｈａ－１００"), variant("lightspeed", "i2", "till-42")],
            // An operator typed the override on a Japanese keyboard.
            [{ source: "lightspeed", sourceAccount: POS, variantId: "i2", sku: "ＨＯＪＩ－７" }],
            ctx
          )
        ]
        assert.deepStrictEqual(
          skuMap.map((r) => [r.variant_id, r.sku, r.source_sku, r.match_method]),
          [
            ["v1", "MATCHA-100", "MATCHA-100", "sku"],
            ["v2", "HOJI-7", "HOJI-7", "sku"],
            ["i1", "MATCHA-100", "ｍａｔｃｈａ－１００", "sku"],
            ["i2", "HOJI-7", "till-42", "manual"]
          ]
        )
        yield* w.load("sku_map", skuMap)
        yield* w.load(
          "location_map",
          buildLocationMap(
            [
              {
                source: "lightspeed",
                sourceAccount: POS,
                locationId: "pos-1",
                stockAccount: SHOP,
                stockLocationId: "loc-1"
              }
            ],
            ctx
          )
        )
        yield* w.load("inventory_movements", [
          move("lightspeed", "p1", "i1", "ｍａｔｃｈａ－１００", -2, "2026-01-02T10:00:00Z"),
          move("lightspeed", "p2", "i2", "till-42", -1, "2026-01-02T11:00:00Z")
        ])
        const placed = yield* w.query(
          `SELECT source_id, sku, stock_source, stock_location_id FROM "v_stock_movements" ORDER BY source_id`
        )
        // Both POS sales land in the Shopify cell of the item they sold.
        assert.deepStrictEqual(
          placed.map((r) => [r.source_id, r.sku, r.stock_source, r.stock_location_id]),
          [
            ["p1", "MATCHA-100", "shopify", "loc-1"],
            ["p2", "HOJI-7", "shopify", "loc-1"]
          ]
        )
      }).pipe(Effect.provide(DuckDbWarehouse.layerMemory))
  )

  it.effect(
    "the SQL normalisation the views join on equals normalizeSku, Unicode spaces and full-width text included",
    () =>
      Effect.gen(function* () {
        const w = yield* Warehouse
        const samples = [
          " abc-1 ",
          "ABC-1",
          "\tabc  1\n",
          "\u3000abc\u00a01\u3000",
          "a\u000bb\ufeff",
          "xyz-9",
          "\uff28\uff2f\uff2a\uff29\uff0d\uff17",
          "\u3000ｓｋｕ－１２\u3000",
          ""
        ]
        for (const sample of samples) {
          const [row] = yield* w.query(`SELECT ${normalizeSkuSql(w.dialect, "$s")} AS n`, { s: sample })
          assert.strictEqual(row?.n, normalizeSku(sample), JSON.stringify(sample))
        }
      }).pipe(Effect.provide(DuckDbWarehouse.layerMemory))
  )

  it.effect(
    "links ' xyz-9 ' to 'XYZ-9', lets an override win, and reports an ambiguous SKU instead of guessing",
    () =>
      Effect.gen(function* () {
        const w = yield* Warehouse
        const skuMap = [
          ...buildSkuMap(
            [
              variant("shopify", "v1", "ABC-1"),
              variant("shopify", "v2", " abc-1 "), // the same SKU twice in one shop: ambiguous
              variant("shopify", "v3", "XYZ-9")
            ],
            [],
            ctx
          ),
          ...buildSkuMap(
            [
              variant("lightspeed", "i1", " xyz-9 "),
              variant("lightspeed", "i2", "abc-1"),
              variant("lightspeed", "i3", "till-7") // a legacy till code: the override names its SKU
            ],
            [{ source: "lightspeed", sourceAccount: POS, variantId: "i3", sku: " xyz-9" }],
            ctx
          )
        ]
        assert.deepStrictEqual(
          skuMap.map((r) => [r.variant_id, r.sku, r.match_method]),
          [
            ["v1", "ABC-1", "sku"],
            ["v2", "ABC-1", "sku"],
            ["v3", "XYZ-9", "sku"],
            ["i1", "XYZ-9", "sku"],
            ["i2", "ABC-1", "sku"],
            ["i3", "XYZ-9", "manual"]
          ]
        )
        yield* w.load("sku_map", skuMap)
        yield* w.load(
          "location_map",
          buildLocationMap(
            [
              {
                source: "lightspeed",
                sourceAccount: POS,
                locationId: "pos-1",
                stockAccount: SHOP,
                stockLocationId: "loc-1"
              }
            ],
            ctx
          )
        )
        const day1 = "2026-01-01T23:00:00Z"
        const day2 = "2026-01-02T23:00:00Z"
        yield* w.load("inventory_levels", [
          snap("v1", "ABC-1", day1, 5),
          snap("v2", " abc-1 ", day1, 5),
          snap("v3", "XYZ-9", day1, 10),
          // v1 lost 2: its own online sale, and the POS sale of "abc-1" that nobody can place.
          snap("v1", "ABC-1", day2, 3),
          snap("v2", " abc-1 ", day2, 5),
          // XYZ-9: two POS sales, one under the till code; both reach the Shopify cell.
          snap("v3", "XYZ-9", day2, 7)
        ])
        yield* w.load("inventory_movements", [
          move("shopify", "s1", "v1", "ABC-1", -1, "2026-01-02T10:00:00Z"),
          move("lightspeed", "p1", "i1", " xyz-9 ", -2, "2026-01-02T10:00:00Z"),
          move("lightspeed", "p2", "i3", "till-7", -1, "2026-01-02T11:00:00Z"),
          move("lightspeed", "p3", "i2", "abc-1", -1, "2026-01-02T12:00:00Z")
        ])

        const links = yield* w.query(
          `SELECT source, variant_id, sku, link_sku, match_method, ambiguous FROM "v_sku_links" ORDER BY source, variant_id`
        )
        assert.deepStrictEqual(
          links.map((r) => [r.source, r.variant_id, r.link_sku, r.ambiguous]),
          [
            ["lightspeed", "i1", "XYZ-9", false],
            ["lightspeed", "i2", "ABC-1", false],
            ["lightspeed", "i3", "XYZ-9", false],
            ["shopify", "v1", "ABC-1#v1", true],
            ["shopify", "v2", "ABC-1#v2", true],
            ["shopify", "v3", "XYZ-9", false]
          ]
        )
        const placed = yield* w.query(
          `SELECT source_id, sku, stock_location_id FROM "v_stock_movements" ORDER BY source_id`
        )
        assert.deepStrictEqual(
          placed.map((r) => [r.source_id, r.sku, r.stock_location_id]),
          [
            ["p1", "XYZ-9", "loc-1"],
            ["p2", "XYZ-9", "loc-1"],
            ["p3", "ABC-1", "loc-1"],
            ["s1", "ABC-1#v1", "loc-1"]
          ]
        )

        const report = yield* w.reconcile
        const day = (r: { readonly snapshotDate: string }) => r.snapshotDate === "2026-01-02"
        assert.deepStrictEqual(
          report.inventory
            .filter(day)
            .map((r) => [r.sku, r.netMovement, r.expectedQuantity, r.observedQuantity, r.status]),
          [
            ["ABC-1#v1", -1, 4, 3, "discrepancy"],
            ["ABC-1#v2", 0, 5, 5, "reconciled"],
            ["XYZ-9", -3, 7, 7, "reconciled"]
          ]
        )
        assert.match(
          report.inventoryDiscrepancies.find((r) => r.sku === "ABC-1#v1")?.likelyCause ?? "",
          /^ambiguous_sku: /
        )
        assert.deepStrictEqual(report.ambiguousSkus, [
          {
            source: "shopify",
            sourceAccount: SHOP,
            sku: "ABC-1",
            variantCount: 2,
            firstVariantId: "v1",
            lastVariantId: "v2"
          }
        ])
        assert.match(
          report.problems.join("\n"),
          /ambiguous SKU: shopify\/kura-matcha\.myshopify\.com ABC-1 is claimed by 2 variants/
        )

        // The merchant says v2 is an old item under another code: one override resolves the
        // ambiguity, and the POS sale now explains v1's loss.
        yield* w.load(
          "sku_map",
          buildSkuMap(
            [{ ...variant("shopify", "v2", " abc-1 "), updated_at: "2026-01-03T00:00:00Z" }],
            [{ source: "shopify", sourceAccount: SHOP, variantId: "v2", sku: "ABC-1-OLD" }],
            { ...ctx, syncedAt: "2026-01-11T00:00:00Z" }
          )
        )
        const resolved = yield* w.reconcile
        assert.deepStrictEqual(resolved.ambiguousSkus, [])
        assert.deepStrictEqual(
          resolved.inventory.filter(day).map((r) => [r.sku, r.netMovement, r.observedQuantity, r.status]),
          [
            ["ABC-1", -2, 3, "reconciled"],
            ["ABC-1-OLD", 0, 5, "reconciled"],
            ["XYZ-9", -3, 7, "reconciled"]
          ]
        )
        assert.strictEqual(resolved.inventoryAccuracy, 1)
        assert.deepStrictEqual(resolved.problems, [])
      }).pipe(Effect.provide(DuckDbWarehouse.layerMemory))
  )
})
