// The graph from Python as React Flow's nodes and edges. Python owns it: these merge each new payload into what
// React Flow holds (measured sizes, the selection, a drag in progress) and keep unchanged objects, so that React
// Flow draws again only what changed.
import { useEffect, useLayoutEffect, useMemo, useRef } from "react";
import { useUpdateNodeInternals, type Edge, type Node } from "@xyflow/react";
import { collapsedPlaces, type GroupActions } from "./groups";
import type { GroupData, LayerData } from "./nodes";
import type { Data, GroupIn, NodeIn } from "./types";

/** Layers and collapsed groups (nodes `g:<group id>`) from each payload, merged into the nodes React Flow holds. A
 * selection Python asks for (Data.sel, after an add or a paste) is applied here, once per number, with its nodes. */
export function usePythonNodes(data: Data, groups: Map<string, GroupIn>, actions: GroupActions,
  setNodes: React.Dispatch<React.SetStateAction<Node[]>>): void {
  const seenSel = useRef(0);
  // Before the browser paints (not after, as useEffect would): the new payload's nodes are drawn in the same frame
  // as the rest of the page, not one or two frames later.
  useLayoutEffect(() => {
    const wantSel = data.sel && data.sel.n !== seenSel.current ? new Set(data.sel.ids) : null;
    if (wantSel) seenSel.current = data.sel.n;
    const collapsedAt = collapsedPlaces(data, groups);
    setNodes((prev) => {
      const old = new Map(prev.map((n) => [n.id, n]));
      const out: Node[] = [];
      for (const n of data.nodes) {
        const g = groups.get(n.id);
        if (g && g.collapsed) continue;
        const p = old.get(n.id);
        const selected = wantSel ? wantSel.has(n.id) : !!p?.selected;
        // An unchanged layer keeps its node object, so React Flow does not draw it again.
        const key = JSON.stringify(n) + (data.building ? "b" : "") + data.dir;
        if (p && (p.data as LayerData).key === key && !!p.selected === selected && !p.dragging) {
          out.push(p);
          continue;
        }
        out.push({
          ...(p ?? {}),
          id: n.id,
          type: "layer",
          position: p?.dragging ? p.position : { x: n.x, y: n.y },
          data: { n, building: data.building, key, lr: data.dir === "LR" } satisfies LayerData,
          selected,
          width: undefined,
          height: undefined,
        } as Node);
      }
      for (const g of data.groups) {
        if (!g.collapsed) continue;
        const id = `g:${g.id}`;
        const p = old.get(id);
        out.push({
          ...(p ?? {}),
          id,
          type: "lcgroup",
          position: p?.dragging ? p.position : collapsedAt.get(g.id) ?? { x: 0, y: 0 },
          data: { g, ...actions, lr: data.dir === "LR" } satisfies GroupData,
          selected: wantSel ? wantSel.has(id) : !!p?.selected,
        } as Node);
      }
      return out;
    });
  }, [data, groups, actions, setNodes]);

  // Handles appear and disappear with ports: React Flow must measure them again.
  const updateInternals = useUpdateNodeInternals();
  const portKey = useRef(new Map<string, string>());
  useEffect(() => {
    const changed: string[] = [];
    for (const n of data.nodes) {
      const k = n.ports.join("|") + data.dir; // the handles move to the sides when the direction changes
      if (portKey.current.has(n.id) && portKey.current.get(n.id) !== k) changed.push(n.id);
      portKey.current.set(n.id, k);
    }
    if (changed.length) requestAnimationFrame(() => updateInternals(changed));
  }, [data.nodes, data.dir, updateInternals]);
}

/** The edges from Python. An edge into a collapsed group ends at its box; one inside it is not drawn. Only their
 * selection is the canvas's own (`selected`: a selected edge can be deleted). */
export function useEdges(data: Data, byId: Map<string, NodeIn>, groups: Map<string, GroupIn>,
  selected: Set<string>): Edge[] {
  const cacheRef = useRef(new Map<string, { key: string; edge: Edge }>());
  return useMemo(() => {
    const out: Edge[] = [];
    const cache = new Map<string, { key: string; edge: Edge }>();
    const seen = new Set<string>();
    const end = (id: string) => {
      const g = groups.get(id);
      return g && g.collapsed ? `g:${g.id}` : id;
    };
    // One layer feeding several ports of another (query, value and key from one layer): one label, at the source.
    const pairs = new Map<string, number>();
    for (const e of data.edges) pairs.set(`${e.source}>${e.target}`, (pairs.get(`${e.source}>${e.target}`) ?? 0) + 1);
    for (const e of data.edges) {
      const s = end(e.source), t = end(e.target);
      const atSource = (pairs.get(`${e.source}>${e.target}`) ?? 0) > 1;
      if (s === t) continue; // inside a collapsed group
      const target = byId.get(e.target);
      const ported = t === e.target && target && target.ports.length > 0;
      const handle = t !== e.target ? "in" : ported ? `in-${e.port ?? 0}` : "in";
      const key = `${s}>${t}>${handle}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const sel = selected.has(e.id);
      const ports = ported ? target.ports.length : 0;
      const ekey = `${key}|${e.id}|${e.label}|${sel}|${atSource}|${ports}`;
      const prev = cacheRef.current.get(e.id);
      const edge: Edge = prev && prev.key === ekey ? prev.edge : {
        id: e.id, source: s, target: t, sourceHandle: "out", targetHandle: handle, type: "shape", selected: sel,
        data: { atSource, ports },
        label: e.label || undefined, labelBgPadding: [4, 2], labelBgBorderRadius: 3, labelShowBg: true,
        className: "lc-edge", markerEnd: { type: "arrowclosed" as never, width: 16, height: 16 },
      };
      cache.set(e.id, { key: ekey, edge });
      out.push(edge);
    }
    cacheRef.current = cache;
    return out;
  }, [data.edges, byId, groups, selected]);
}
