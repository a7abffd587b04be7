// node validate.js FILE: validates FILE as an OpenAPI document (3.1 against the
// specification's JSON Schema, plus swagger-parser's own rules: resolvable $refs, path
// parameters declared, unique operationIds). Prints one line; exit status 1 when invalid.
"use strict";
const SwaggerParser = require("@apidevtools/swagger-parser");

const file = process.argv[2];
if (!file) {
  console.error("usage: node validate.js FILE");
  process.exit(2);
}
SwaggerParser.validate(file)
  .then((api) => {
    console.log(`valid: OpenAPI ${api.openapi}, ${Object.keys(api.paths).length} paths`);
  })
  .catch((err) => {
    console.log(`invalid: ${err.message}`);
    process.exit(1);
  });
