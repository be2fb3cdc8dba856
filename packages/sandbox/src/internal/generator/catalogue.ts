/**
 * The static part of the merchant: a Japanese-food retailer's catalogue, suppliers and locations.
 * Prices are in JPY (tax included); the EU flavour converts them once at build time.
 */

/** One sellable variant as written in the catalogue. */
export interface CatalogueVariant {
  readonly title: string
  readonly sku: string
  readonly priceJpy: number
  readonly costJpy: number
  /** Relative popularity. */
  readonly weight: number
  /** Sold over the café counter too (drinks and snacks); the shop sells everything. */
  readonly cafe: boolean
  readonly barcode: boolean
}

/** One catalogue product. */
export interface CatalogueProduct {
  readonly title: string
  readonly productType: "matcha" | "miso" | "sake" | "rice" | "ramen" | "snacks" | "kitchenware"
  readonly vendor: string
  readonly supplier: number
  readonly variants: ReadonlyArray<CatalogueVariant>
}

const v = (
  title: string,
  sku: string,
  priceJpy: number,
  costJpy: number,
  weight: number,
  cafe = false,
  barcode = true
): CatalogueVariant => ({ title, sku, priceJpy, costJpy, weight, cafe, barcode })

/** Supplier names; index + 1 is the supplier id. */
export const SUPPLIERS: ReadonlyArray<string> = [
  "Uji Tea Company",
  "Shinshu Miso Brewery",
  "Fushimi Sake Brewers",
  "Niigata Rice Farm",
  "Sapporo Noodle Works",
  "Kyoto Sweets Co.",
  "Seki Kitchen Supply"
]

/** The catalogue; food is taxed at the reduced rate except sake and kitchenware. */
export const CATALOGUE: ReadonlyArray<CatalogueProduct> = [
  {
    title: "Ceremonial Matcha Uji",
    productType: "matcha",
    vendor: "Uji Tea Company",
    supplier: 1,
    variants: [
      v("30g tin", "MAT-UJI-030", 2400, 1100, 9, true),
      v("100g pouch", "MAT-UJI-100", 6800, 3200, 4, true)
    ]
  },
  {
    title: "Culinary Matcha",
    productType: "matcha",
    vendor: "Uji Tea Company",
    supplier: 1,
    variants: [v("100g", "MAT-CUL-100", 1900, 800, 6), v("500g", "MAT-CUL-500", 7200, 3300, 2)]
  },
  {
    title: "Hojicha Roasted Tea",
    productType: "matcha",
    vendor: "Uji Tea Company",
    supplier: 1,
    variants: [v("80g", "TEA-HOJ-080", 1200, 480, 5, true)]
  },
  {
    title: "Shiro Miso",
    productType: "miso",
    vendor: "Shinshu Miso Brewery",
    supplier: 2,
    variants: [v("500g", "MIS-SHI-500", 980, 390, 7), v("1kg", "MIS-SHI-1000", 1780, 720, 3)]
  },
  {
    title: "Aka Miso",
    productType: "miso",
    vendor: "Shinshu Miso Brewery",
    supplier: 2,
    variants: [v("500g", "MIS-AKA-500", 1080, 430, 4)]
  },
  {
    title: "Awase Miso",
    productType: "miso",
    vendor: "Shinshu Miso Brewery",
    supplier: 2,
    variants: [v("750g", "MIS-AWA-750", 1380, 560, 3)]
  },
  {
    title: "Junmai Daiginjo",
    productType: "sake",
    vendor: "Fushimi Sake Brewers",
    supplier: 3,
    variants: [v("720ml", "SAK-JDG-720", 4800, 2600, 4), v("1.8L", "SAK-JDG-1800", 9600, 5300, 1)]
  },
  {
    title: "Nigori Sake",
    productType: "sake",
    vendor: "Fushimi Sake Brewers",
    supplier: 3,
    variants: [v("300ml", "SAK-NIG-300", 1100, 520, 4, true), v("720ml", "SAK-NIG-720", 2300, 1150, 2)]
  },
  {
    title: "Yuzu Sake",
    productType: "sake",
    vendor: "Fushimi Sake Brewers",
    supplier: 3,
    variants: [v("500ml", "SAK-YUZ-500", 1900, 900, 3)]
  },
  {
    title: "Koshihikari Rice",
    productType: "rice",
    vendor: "Niigata Rice Farm",
    supplier: 4,
    variants: [v("2kg", "RIC-KOS-2", 1680, 980, 6), v("5kg", "RIC-KOS-5", 3980, 2400, 3)]
  },
  {
    title: "Genmai Brown Rice",
    productType: "rice",
    vendor: "Niigata Rice Farm",
    supplier: 4,
    variants: [v("2kg", "RIC-GEN-2", 1480, 860, 2)]
  },
  {
    title: "Tonkotsu Ramen Kit",
    productType: "ramen",
    vendor: "Sapporo Noodle Works",
    supplier: 5,
    variants: [v("2 servings", "RAM-TON-2", 1280, 540, 7), v("4 servings", "RAM-TON-4", 2380, 1010, 3)]
  },
  {
    title: "Miso Ramen Kit",
    productType: "ramen",
    vendor: "Sapporo Noodle Works",
    supplier: 5,
    variants: [v("2 servings", "RAM-MIS-2", 1280, 540, 5)]
  },
  {
    title: "Shoyu Ramen Kit",
    productType: "ramen",
    vendor: "Sapporo Noodle Works",
    supplier: 5,
    variants: [v("2 servings", "RAM-SHO-2", 1180, 500, 4)]
  },
  {
    title: "Matcha Kit Kat",
    productType: "snacks",
    vendor: "Kyoto Sweets Co.",
    supplier: 6,
    variants: [v("12 pieces", "SNK-KIT-12", 980, 520, 9, true)]
  },
  {
    title: "Senbei Rice Crackers",
    productType: "snacks",
    vendor: "Kyoto Sweets Co.",
    supplier: 6,
    variants: [v("Soy sauce", "SNK-SEN-SOY", 580, 250, 6, true), v("Nori", "SNK-SEN-NOR", 580, 250, 4, true)]
  },
  {
    title: "Yuzu Mochi",
    productType: "snacks",
    vendor: "Kyoto Sweets Co.",
    supplier: 6,
    variants: [v("6 pieces", "SNK-MOC-6", 880, 390, 5, true)]
  },
  {
    title: "Dorayaki",
    productType: "snacks",
    vendor: "Kyoto Sweets Co.",
    supplier: 6,
    variants: [v("4 pieces", "SNK-DOR-4", 760, 330, 5, true)]
  },
  {
    title: "Chasen Bamboo Whisk",
    productType: "kitchenware",
    vendor: "Seki Kitchen Supply",
    supplier: 7,
    variants: [v("100 prongs", "KIT-CHA-100", 3200, 1400, 3, false, false)]
  },
  {
    title: "Matcha Bowl (Chawan)",
    productType: "kitchenware",
    vendor: "Seki Kitchen Supply",
    supplier: 7,
    variants: [
      v("Sakura", "KIT-BOW-SAK", 4800, 2100, 2, false, false),
      v("Indigo", "KIT-BOW-IND", 4800, 2100, 2)
    ]
  },
  {
    title: "Donabe Clay Pot",
    productType: "kitchenware",
    vendor: "Seki Kitchen Supply",
    supplier: 7,
    variants: [v("2-person", "KIT-DON-2", 8800, 4100, 1)]
  },
  {
    title: "Santoku Knife",
    productType: "kitchenware",
    vendor: "Seki Kitchen Supply",
    supplier: 7,
    variants: [v("165mm", "KIT-SAN-165", 12800, 6200, 1)]
  }
]

/** Given names and family names for customers (romanised). */
export const FIRST_NAMES: ReadonlyArray<string> = [
  "Haruto",
  "Yui",
  "Sota",
  "Hina",
  "Yuto",
  "Aoi",
  "Ren",
  "Mei",
  "Riku",
  "Sakura",
  "Kaito",
  "Yuna",
  "Hinata",
  "Rin",
  "Minato",
  "Emma",
  "Sophie",
  "Lukas",
  "Noah",
  "Mia"
]
/** Family names. */
export const LAST_NAMES: ReadonlyArray<string> = [
  "Sato",
  "Suzuki",
  "Takahashi",
  "Tanaka",
  "Watanabe",
  "Ito",
  "Yamamoto",
  "Nakamura",
  "Kobayashi",
  "Kato",
  "Yoshida",
  "Yamada",
  "Sasaki",
  "Yamaguchi",
  "Matsumoto",
  "Inoue",
  "Muller",
  "Schmidt",
  "Martin",
  "Rossi"
]

/** A JAN-13 barcode with a valid check digit. */
export const janOf = (n: number): string => {
  const body = `45${String(n).padStart(10, "0")}`
  let sum = 0
  for (let i = 0; i < 12; i++) sum += Number(body[i]) * (i % 2 === 0 ? 1 : 3)
  return `${body}${(10 - (sum % 10)) % 10}`
}
