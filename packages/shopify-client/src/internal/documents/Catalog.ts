/** Customers, products with variants, and locations. */
import { connection, followUp, type Mode, resource } from "./Selection.js"

/** Customers, paged and bulk. */
export const CustomersDocuments = resource({
  name: "customers",
  operation: "KuraCustomers",
  root: "customers",
  sortKey: "UPDATED_AT",
  selection: () =>
    [
      "__typename id legacyResourceId firstName lastName displayName state createdAt updatedAt tags verifiedEmail taxExempt",
      "defaultEmailAddress { emailAddress } defaultPhoneNumber { phoneNumber }"
    ].join(" "),
  bulkChildFields: []
})

const VARIANT =
  "id legacyResourceId title sku barcode price compareAtPrice position taxable inventoryQuantity createdAt updatedAt inventoryItem { id }"

/** Products with their variants, paged and bulk. */
export const ProductsDocuments = resource({
  name: "products",
  operation: "KuraProducts",
  root: "products",
  sortKey: "UPDATED_AT",
  selection: (mode: Mode) =>
    [
      "__typename id legacyResourceId title handle productType vendor status tags createdAt updatedAt publishedAt",
      "variantsCount { count }",
      connection(mode, "variants", 100, VARIANT)
    ].join(" "),
  bulkChildFields: ["variants"],
  followUps: { variants: followUp("Product", "variants", VARIANT) }
})

/** Locations (few, and not filterable by updated_at: always read in full). */
export const LocationsDocuments = resource({
  name: "locations",
  operation: "KuraLocations",
  root: "locations",
  sortKey: "ID",
  selection: () =>
    [
      "__typename id legacyResourceId name isActive fulfillsOnlineOrders hasActiveInventory shipsInventory createdAt updatedAt deactivatedAt",
      "address { address1 address2 city province provinceCode zip country countryCode phone }"
    ].join(" "),
  bulkChildFields: [],
  cursorField: "none"
})
