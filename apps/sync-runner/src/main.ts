/** App entry point; assembled in this app's issue. */
console.log("not yet assembled")
