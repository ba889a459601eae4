// The connect rules, checked while a connection is dragged so that a refused one says why at once (no round trip).
// They are Graph.connect's (builder/model/graph.py), read from the payload alone: a layer's `maxin` and `nin` (what
// the catalog says, sent by Python), the input position a handle stands for, and the edges (for cycles). No layer
// type is named here. tests/test_canvas_rules.py runs this file in Node on cases Python makes and checks every
// verdict against Graph.connect's. It imports types only: the test transpiles this file alone.
import type { EdgeIn, NodeIn } from "./types";

/** Which rule refused a connection. `group`, `gone` and `duplicate` are the canvas's own; the rest are Python's. */
export type Rule = "group" | "gone" | "input" | "self" | "cycle" | "duplicate" | "port" | "arity";
export type Refusal = { rule: Rule; text: string };
/** A connection being made: into `target` at its handle `targetHandle` (`in`, or `in-<port>`). */
export type Attempt = { source: string; target: string; targetHandle?: string | null };

/** The input position a target handle stands for: `in-2` is port 2; the plain handle `in` appends (null). */
export function portOf(handle: string | null | undefined): number | null {
  const h = handle ?? "in";
  return h.startsWith("in-") ? Number(h.slice(3)) : null;
}

/** Successors by layer, made once per graph: a connection being dragged is checked on every pointer move. */
export function successorsOf(edges: EdgeIn[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const e of edges) out.set(e.source, [...(out.get(e.source) ?? []), e.target]);
  return out;
}

function reaches(successors: Map<string, string[]>, from: string, to: string): boolean {
  const stack = [from], seen = new Set<string>();
  while (stack.length) {
    const id = stack.pop()!;
    if (id === to) return true;
    if (seen.has(id)) continue;
    seen.add(id);
    stack.push(...(successors.get(id) ?? []));
  }
  return false;
}

/** Why `c` cannot be made, or null: Python will accept it. */
export function whyNot(c: Attempt, byId: ReadonlyMap<string, NodeIn>, edges: EdgeIn[],
  successors: Map<string, string[]>): Refusal | null {
  if (c.source.startsWith("g:") || c.target.startsWith("g:")) return { rule: "group", text: "Expand the group to connect to a layer inside it." };
  const s = byId.get(c.source), t = byId.get(c.target);
  if (!s || !t) return { rule: "gone", text: "That layer is gone: the canvas is being redrawn." };
  // Python's rules in Graph.connect's order, so a connection that breaks two of them gets Python's reason.
  if (t.maxin === 0) return { rule: "input", text: `${t.type} '${t.id}' is a model input and takes no inputs.` };
  if (c.source === c.target) return { rule: "self", text: `${t.type} '${t.id}' cannot take its own output.` };
  if (reaches(successors, c.target, c.source)) return { rule: "cycle", text: `Connecting '${s.id}' to '${t.id}' would make a cycle.` };
  // The canvas's own rule (Python would accept it): one connection between two layers, since a connection is
  // deleted by naming its two layers (the delete event), so a second one could not be told from the first.
  if (edges.some((e) => e.source === c.source && e.target === c.target)) return { rule: "duplicate", text: `'${s.id}' is already connected to '${t.id}'.` };
  const port = portOf(c.targetHandle);
  if (port !== null && port > t.nin) {
    const missing = t.ports[t.nin] ?? String(t.nin);
    return { rule: "port", text: `Connect input '${missing}' of ${t.type} '${t.id}' first: inputs go in order.` };
  }
  if (t.maxin !== null && t.nin >= t.maxin)
    return { rule: "arity", text: `${t.type} '${t.id}' takes at most ${t.maxin} input${t.maxin === 1 ? "" : "s"} and has ${t.nin}: delete one first.` };
  return null;
}
