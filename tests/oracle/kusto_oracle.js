#!/usr/bin/env node
/*
 * Microsoft's KQL parser and binder (npm @kusto/language-service-next) as a test oracle.
 *
 * Usage: node kusto_oracle.js SCHEMA.json < queries.jsonl > answers.jsonl
 *
 * SCHEMA.json is {table: [[column, kustoType], ...]} (the shape of tables.json); every table also
 * gets `TenantId: string` when it does not list it. Each input line is {"id", "query"}; each output
 * line, in input order, is
 *   {"id", "parses": bool, "errors": [...], "binds": bool, "semantic_errors": [...],
 *    "columns": [[name, kustoType], ...] | null}
 * where `errors` are the parser's error diagnostics (GetSyntaxDiagnostics), `semantic_errors` the
 * binder's further error diagnostics (one KustoCode.ParseAndAnalyze per query), and `columns` the result schema
 * of the query's last tabular expression (null when the result is not a table).
 *
 * Invariant: exactly one output line per non-blank input line; a malformed line or a failure inside
 * the library is reported on that line ("input_error" / "oracle_error") and never stops the run.
 */
"use strict";

const fs = require("fs");
const path = require("path");
const readline = require("readline");

const PKG = path.join(__dirname, "node_modules", "@kusto", "language-service-next");
require(path.join(PKG, "bridge.min.js")); // defines the global `Bridge` runtime
require(path.join(PKG, "Kusto.Language.Bridge.min.js")); // defines the global `Kusto`

const L = Kusto.Language;
const S = L.Symbols;

function list(items) {
  const out = [];
  if (!items) return out;
  for (let i = 0; i < items.Count; i++) out.push(items.getItem(i));
  return out;
}

function scalarType(name) {
  const t = S.ScalarTypes.GetSymbol(name);
  if (!t) throw new Error(`unknown Kusto type '${name}'`);
  return t;
}

function buildGlobals(schemaPath) {
  const raw = JSON.parse(fs.readFileSync(schemaPath, "utf-8"));
  const tables = [];
  for (const [table, columns] of Object.entries(raw)) {
    const cols = columns.map(([name, type]) => new S.ColumnSymbol(name, scalarType(type)));
    if (!columns.some(([name]) => name === "TenantId")) {
      cols.push(new S.ColumnSymbol("TenantId", S.ScalarTypes.String));
    }
    tables.push(new S.TableSymbol.$ctor4(table, cols));
  }
  const db = new S.DatabaseSymbol.$ctor1("workspace", tables, false);
  return L.GlobalState.Default.WithDatabase(db);
}

function errorsOf(diags) {
  return list(diags)
    .filter((d) => d.Severity === "Error")
    .map((d) => ({ code: d.Code, message: d.Message, start: d.Start, length: d.Length }));
}

function typeName(type) {
  return (type && type.Name) || "unknown";
}

function answer(id, query, globals) {
  const analyzed = L.KustoCode.ParseAndAnalyze(query, globals);
  const errors = errorsOf(analyzed.GetSyntaxDiagnostics());
  const seen = new Set(errors.map((e) => `${e.code}@${e.start}`));
  const semantic = errorsOf(analyzed.GetDiagnostics()).filter((e) => !seen.has(`${e.code}@${e.start}`));
  const rt = analyzed.ResultType;
  let columns = null;
  if (rt && rt.Columns) {
    columns = list(rt.Columns).map((c) => [c.Name, typeName(c.Type)]);
  }
  return {
    id,
    parses: errors.length === 0,
    errors,
    binds: errors.length === 0 && semantic.length === 0,
    semantic_errors: semantic,
    columns,
  };
}

function main() {
  const schemaPath = process.argv[2];
  if (!schemaPath) {
    process.stderr.write("usage: node kusto_oracle.js SCHEMA.json < queries.jsonl\n");
    process.exit(2);
  }
  let globals;
  try {
    globals = buildGlobals(schemaPath);
  } catch (e) {
    process.stderr.write(`Cannot load schema ${schemaPath}: ${e.message}\n`);
    process.exit(2);
  }
  const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
  let lineNo = 0;
  rl.on("line", (line) => {
    lineNo += 1;
    if (!line.trim()) return;
    let item;
    try {
      item = JSON.parse(line);
      if (typeof item.query !== "string") throw new Error("no string 'query'");
    } catch (e) {
      process.stdout.write(JSON.stringify({ id: null, line: lineNo, input_error: e.message }) + "\n");
      return;
    }
    let out;
    try {
      out = answer(item.id, item.query, globals);
    } catch (e) {
      out = { id: item.id, oracle_error: String((e && e.message) || e) };
    }
    process.stdout.write(JSON.stringify(out) + "\n");
  });
}

main();
