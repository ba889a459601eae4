// The canvas's connect verdicts for cases Python makes (tests/test_canvas_rules.py): reads
// {"graphs": [Data, ...], "cases": [{"graph": i, "source", "target", "handle"}, ...]} as JSON on stdin and writes
// [{"rule": string | null, "text": string | null, "port": number | null}, ...], one per case, as JSON on stdout.
// src/rules.ts is run as it is: transpiled alone with the TypeScript the frontend already has (its devDependency),
// no bundler and no other source, so what is tested is that file and nothing else.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const ts = createRequire(join(here, "..", "package.json"))("typescript");
const source = readFileSync(join(here, "..", "src", "rules.ts"), "utf8");
const out = ts.transpileModule(source, {
  compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
  reportDiagnostics: true,
});
if (out.diagnostics?.length) {
  console.error(out.diagnostics.map((d) => ts.flattenDiagnosticMessageText(d.messageText, "\n")).join("\n"));
  process.exit(2);
}
const dir = mkdtempSync(join(tmpdir(), "lc-rules-"));
let rules;
try {
  writeFileSync(join(dir, "rules.mjs"), out.outputText);
  rules = await import(pathToFileURL(join(dir, "rules.mjs")).href);
} finally {
  rmSync(dir, { recursive: true, force: true });
}

const input = JSON.parse(readFileSync(0, "utf8"));
const prepared = input.graphs.map((d) => ({
  byId: new Map(d.nodes.map((n) => [n.id, n])),
  edges: d.edges,
  successors: rules.successorsOf(d.edges),
}));
const verdicts = input.cases.map((c) => {
  const g = prepared[c.graph];
  const why = rules.whyNot({ source: c.source, target: c.target, targetHandle: c.handle }, g.byId, g.edges, g.successors);
  return { rule: why?.rule ?? null, text: why?.text ?? null, port: rules.portOf(c.handle) };
});
process.stdout.write(JSON.stringify(verdicts));
