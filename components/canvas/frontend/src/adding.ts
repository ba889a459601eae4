// Adding layers from the palette: a click adds after the selected layer; a drop lands where it is let go (onto a
// layer: connected after it; onto a connection: inserted into it; elsewhere: on its own).
import { useCallback } from "react";
import { useReactFlow } from "@xyflow/react";
import type { Say } from "./toast";
import type { Data } from "./types";
import type { Emit } from "./ui";

/** A layer added at a point hangs from it: centred across, its top this many px above the point. */
export const GRAB_Y = 30;

export function useAdding(rootNode: HTMLElement | ShadowRoot, flowRef: React.RefObject<HTMLDivElement | null>,
  dataRef: React.RefObject<Data>, selectedIds: () => string[], emit: Emit, say: Say) {
  const rf = useReactFlow();
  /** A point on the screen in flow coordinates. */
  const flowAt = useCallback((clientX: number, clientY: number) => rf.screenToFlowPosition({ x: clientX, y: clientY }), [rf]);
  /** A palette item let go at (clientX, clientY); false: not over the canvas. */
  const dropAt = useCallback((type: string, clientX: number, clientY: number) => {
    const root = rootNode as unknown as DocumentOrShadowRoot;
    const el = (root.elementFromPoint ? root.elementFromPoint(clientX, clientY) : document.elementFromPoint(clientX, clientY)) as Element | null;
    if (!el || !flowRef.current?.contains(el)) return false;
    const p = flowAt(clientX, clientY);
    const nodeEl = el.closest(".react-flow__node") as HTMLElement | null;
    const nodeId = nodeEl?.getAttribute("data-id") ?? null;
    const edgeEl = el.closest(".react-flow__edge") as Element | null;
    if (nodeId && nodeId.startsWith("g:")) {
      say("Expand the group to add a layer inside it.", "info");
      return true;
    }
    const x = p.x - dataRef.current.box.w / 2, y = p.y - GRAB_Y;
    if (nodeId && !nodeId.startsWith("box:")) {
      emit({ kind: "add", type, connect: nodeId });
    } else if (edgeEl) {
      const edgeId = edgeEl.getAttribute("data-id") || (edgeEl.getAttribute("data-testid") ?? "").replace(/^rf__edge-/, "");
      emit({ kind: "add", type, edge: edgeId, x, y });
    } else {
      emit({ kind: "add", type, x, y });
    }
    return true;
  }, [rootNode, flowRef, dataRef, flowAt, emit, say]);
  /** A palette click: after the one selected layer, else where Python finds room. */
  const addAfterSelected = useCallback((type: string) => {
    const sel = selectedIds().filter((id) => !id.startsWith("g:"));
    emit({ kind: "add", type, after: sel.length === 1 ? sel[0] : null });
  }, [selectedIds, emit]);
  return { flowAt, dropAt, addAfterSelected };
}
