/** Events, read for deletions (Shopify lists deleted records nowhere else). */
import { resource } from "./Selection.js"

/** Events (paged and bulk); filter with e.g. `subject_type:ORDER AND action:destroy`. */
export const EventsDocuments = resource({
  name: "events",
  operation: "KuraEvents",
  root: "events",
  sortKey: "CREATED_AT",
  selection: () =>
    "__typename id action createdAt message ... on BasicEvent { subjectId subjectType appTitle attributeToApp attributeToUser }",
  bulkChildFields: [],
  cursorField: "created_at"
})
