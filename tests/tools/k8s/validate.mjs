// node validate.mjs FILE...: validates each Kubernetes object of the YAML files against the
// API's schemas (kubernetes-models: the OpenAPI schemas of the Kubernetes API, compiled with
// Ajv: types, required fields, enums, formats). Prints one line per object; exit status 1
// when any is invalid or of a kind it does not know. It does not reject unknown fields (the
// schemas allow them); the API server's strict field validation does.
import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error("usage: node validate.mjs FILE...");
  process.exit(2);
}
let failed = false;
for (const file of files) {
  for (const doc of parseAllDocuments(readFileSync(file, "utf8"))) {
    if (doc.errors.length) {
      console.log(`invalid: ${file}: ${doc.errors[0].message}`);
      failed = true;
      continue;
    }
    const obj = doc.toJS();
    if (obj === null) continue;
    const where = `${file}: ${obj.kind} ${obj.metadata?.name}`;
    const [group, version] = obj.apiVersion.includes("/") ? obj.apiVersion.split("/") : ["", obj.apiVersion];
    let model;
    try {
      const module = await import(`kubernetes-models/${group ? group + "/" : ""}${version}/${obj.kind}`);
      model = module[obj.kind];
    } catch {
      model = undefined;
    }
    if (!model) {
      console.log(`invalid: ${where}: unknown apiVersion/kind ${obj.apiVersion}/${obj.kind}`);
      failed = true;
      continue;
    }
    try {
      new model(obj).validate();
      console.log(`valid: ${where}`);
    } catch (err) {
      console.log(`invalid: ${where}: ${err.message}`);
      failed = true;
    }
  }
}
process.exit(failed ? 1 : 0);
