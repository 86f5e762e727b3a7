// YAML text to plain data, the same way for every file the product reads (server, runtime and
// rnx configurations, workflow files), safe against hostile input:
//  - duplicate keys are found in linear time (the library's own check compares every key with
//    every other: 3.5 s of the daemon's event loop for one mapping of 10 000 keys in a workflow);
//  - only YAML's core types get through: tags such as !!binary, !!set, !!omap or !!timestamp (and
//    a %YAML 1.1 document's implicit timestamps) would hand the schemas a Uint8Array, a Set, a Map
//    or a Date, and an unknown tag would be taken as text with a warning printed on stderr;
//  - an alias inside the node it names (`a: &a [*a]`) would make the data contain itself;
//  - keys are plain values (a collection as a key would be stringified, with another warning);
//  - a document nested too deeply for the parser is named so, not by the engine's stack overflow.
// Every problem reads "not valid YAML: <what> at line L, column C".
import { isAlias, isCollection, isMap, isScalar, isSeq, LineCounter, parseDocument, type Document } from "yaml";

const CORE_TAGS = new Set(["str", "int", "float", "bool", "null", "map", "seq"].map((t) => `tag:yaml.org,2002:${t}`));

/** The library's message for a person: its first line; a stack overflow on deep nesting said plainly. */
export function yamlMessage(e: Error): string {
  const first = e.message.split("\n")[0]!.replace(/:$/, "");
  return first.replace(/^(RangeError: )?Maximum call stack size exceeded\.?/i, "nested too deeply");
}

export interface ParsedYaml {
  /** the document, when it has no problems */
  doc?: Document;
  problems: string[];
}

/**
 * Parses `text`, reporting every problem of the kinds above. `merge`: `<<` merge keys (workflow
 * files, as Joblet's Go YAML library has them).
 */
export function parseYaml(text: string, opts: { merge?: boolean } = {}): ParsedYaml {
  const lines = new LineCounter();
  const doc = parseDocument(text, { prettyErrors: true, merge: opts.merge ?? false, uniqueKeys: false, logLevel: "error", lineCounter: lines });
  if (doc.errors[0]) return { problems: [`not valid YAML: ${yamlMessage(doc.errors[0])}`] };
  const problems: string[] = [];
  const at = (node: { range?: [number, number, number] | null } | null | undefined) => {
    const offset = node?.range?.[0];
    if (offset === undefined) return "";
    const { line, col } = lines.linePos(offset);
    return ` at line ${line}, column ${col}`;
  };
  // every node once (aliases point at nodes visited where they are defined), without recursion
  const stack: unknown[] = [doc.contents];
  while (stack.length && problems.length < 20) {
    const node = stack.pop();
    if (!node) continue;
    if (isAlias(node)) {
      // an alias inside the node it names would make the data contain itself
      const target = node.resolve(doc);
      const [start, end] = [target?.range?.[0], target?.range?.[2]];
      const own = node.range?.[0];
      if (start !== undefined && end !== undefined && own !== undefined && own >= start && own < end) problems.push(`not valid YAML: alias *${node.source} is inside the node it names${at(node)}`);
      continue;
    }
    if (isScalar(node)) {
      const v = node.value;
      const mergeKey = typeof v === "symbol" && opts.merge; // `<<`
      const plain = v === null || typeof v === "string" || typeof v === "number" || typeof v === "boolean" || mergeKey;
      if (!plain || (node.tag && !CORE_TAGS.has(node.tag) && node.tag !== "!")) {
        problems.push(`not valid YAML: ${node.tag ? `tag ${node.tag.replace("tag:yaml.org,2002:", "!!")}` : "a value of this type"} is not accepted here${at(node)}`);
      }
      continue;
    }
    if (!isCollection(node)) continue;
    if (node.tag && !CORE_TAGS.has(node.tag)) {
      problems.push(`not valid YAML: tag ${(node.tag ?? "").replace("tag:yaml.org,2002:", "!!")} is not accepted here${at(node)}`);
      continue;
    }
    if (isSeq(node)) {
      for (let i = node.items.length - 1; i >= 0; i--) stack.push(node.items[i]);
      continue;
    }
    const seen = new Set<string>();
    for (const pair of node.items) {
      const key = pair.key;
      if (isScalar(key)) {
        if (typeof key.value !== "symbol") {
          const name = String(key.value); // as the key of a JS object: 1 and "1" are one key
          if (seen.has(name)) problems.push(`not valid YAML: Map keys must be unique${at(key)}`);
          seen.add(name);
        }
      } else if (key !== null) {
        problems.push(`not valid YAML: a key must be a plain value, not ${isAlias(key) ? "an alias" : "a collection"}${at(key as { range?: [number, number, number] })}`);
      }
    }
    for (let i = node.items.length - 1; i >= 0; i--) stack.push(node.items[i]!.value, node.items[i]!.key);
  }
  return problems.length ? { problems } : { doc, problems };
}

/** The document as plain data (aliases expanded within the library's budget, which stops alias bombs). */
export function toPlain(doc: Document): { value: unknown } | { problem: string } {
  try {
    return { value: doc.toJS() ?? {} };
  } catch (e) {
    return { problem: `not valid YAML: ${yamlMessage(e as Error)}` };
  }
}

/** parseYaml + toPlain: plain data, or the problems. */
export function readYamlText(text: string, opts: { merge?: boolean } = {}): { value?: unknown; problems: string[] } {
  const parsed = parseYaml(text, opts);
  if (!parsed.doc) return { problems: parsed.problems };
  const plain = toPlain(parsed.doc);
  return "value" in plain ? { value: plain.value, problems: [] } : { problems: [plain.problem] };
}
