// Moving and deleting: a drag's end and the Delete key (or the menu, or the toolbar) as events to Python. Python
// applies them and the new data redraws.
import { useCallback } from "react";
import { useReactFlow, type Edge, type Node } from "@xyflow/react";
import type { Data, GroupIn, NodeIn } from "./types";
import type { Emit } from "./ui";

export function useEdits(data: Data, boxGroup: Map<string, GroupIn>, selectedIds: () => string[],
  setNodes: React.Dispatch<React.SetStateAction<Node[]>>, emit: Emit) {
  const rf = useReactFlow();
  const onNodeDragStop = useCallback((_e: unknown, _n: Node, dragged: Node[]) => {
    const positions: Record<string, [number, number]> = {};
    for (const n of dragged) {
      if (n.type === "lcgroup") {
        // A collapsed group moves all its layers by the same amount.
        const g = boxGroup.get(n.id);
        const first = data.nodes.filter((m) => g?.nodes.includes(m.id));
        const anchor = first.reduce<NodeIn | null>((a, m) => (!a || m.y < a.y || (m.y === a.y && m.x < a.x) ? m : a), null);
        if (!anchor) continue;
        const dx = n.position.x - anchor.x, dy = n.position.y - anchor.y;
        for (const m of first) positions[m.id] = [Math.round(m.x + dx), Math.round(m.y + dy)];
      } else if (n.type === "layer") {
        positions[n.id] = [Math.round(n.position.x), Math.round(n.position.y)];
      }
    }
    if (Object.keys(positions).length) emit({ kind: "move", positions });
  }, [boxGroup, data.nodes, emit]);

  /** Deletes these layers (a collapsed group: its layers) and connections; by default, the selected ones. */
  const deleteSelection = useCallback((nodeIds?: string[], edgeIds?: string[]) => {
    const ids = nodeIds ?? selectedIds();
    const es = edgeIds ?? rf.getEdges().filter((e) => e.selected).map((e) => e.id);
    const layerIds: string[] = [];
    for (const id of ids) {
      if (id.startsWith("g:")) layerIds.push(...(boxGroup.get(id)?.nodes ?? []));
      else if (!id.startsWith("box:")) layerIds.push(id);
    }
    // Connections of deleted layers go with them (Python keeps a chain whole across a deleted layer).
    const gone = new Set(layerIds);
    const own = es.filter((id) => {
      const e = data.edges.find((x) => x.id === id);
      return e && !gone.has(e.source) && !gone.has(e.target);
    });
    if (!layerIds.length && !own.length) return;
    setNodes((ns) => ns.filter((n) => !ids.includes(n.id)));
    emit({ kind: "delete", nodes: layerIds, edges: own });
  }, [selectedIds, rf, boxGroup, data.edges, setNodes, emit]);
  // Delete / Backspace in React Flow.
  const onBeforeDelete = useCallback(async ({ nodes: ns, edges: es }: { nodes: Node[]; edges: Edge[] }) => {
    deleteSelection(ns.map((n) => n.id), es.map((e) => e.id));
    return false; // Python deletes; the new data redraws
  }, [deleteSelection]);

  return { onNodeDragStop, deleteSelection, onBeforeDelete };
}
