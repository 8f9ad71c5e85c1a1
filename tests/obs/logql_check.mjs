// logql_check — syntax-check LogQL expressions with Grafana's own LogQL
// grammar (@grafana/lezer-logql, the parser of Grafana's Loki query editor).
// Usage: node logql_check.mjs NODE_MODULES_DIR < expressions (one JSON string a line)
// Prints one line per expression ("ok: …" or "error at N: …") and exits 1 if
// any fails. Lezer parsers recover from errors by inserting error nodes (⚠),
// so an expression is valid only if its tree has none.
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import path from "node:path";

const require = createRequire(path.join(process.argv[2], "noop.js"));
const { parser } = require("@grafana/lezer-logql");

const lines = readFileSync(0, "utf8").split("\n").filter((l) => l.trim() !== "");
let failed = 0;
for (const line of lines) {
  const expr = JSON.parse(line);
  const tree = parser.parse(expr);
  let errorAt = -1;
  tree.iterate({
    enter(node) {
      if (node.type.isError && errorAt < 0) errorAt = node.from;
    },
  });
  if (errorAt >= 0) {
    failed++;
    console.log(`error at ${errorAt}: ${expr}`);
  } else {
    console.log(`ok: ${expr}`);
  }
}
process.exit(failed ? 1 : 0);
