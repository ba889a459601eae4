// The selection, in step with Python: the canvas's selection is sent when it settles (the inspector follows it), and
// a selection Python asks for (Data.sel, applied with the nodes in graph.ts) counts as sent. Edges' selection is the
// canvas's own (a selected connection can be deleted).
import { useCallback, useEffect, useRef, useState } from "react";
import { applyNodeChanges, useReactFlow, type EdgeChange, type Node, type NodeChange } from "@xyflow/react";
import type { Data } from "./types";
import type { Emit } from "./ui";

const SETTLE_MS = 60; // a new selection is sent this long after it last changed

export function useSelection(nodes: Node[], setNodes: React.Dispatch<React.SetStateAction<Node[]>>, sel: Data["sel"],
  emit: Emit) {
  const rf = useReactFlow();
  const lastSel = useRef<string>(""); // the selection Python has (sent, or asked for), as sorted ids
  /** The selected layers and collapsed groups (`g:` ids), now. */
  const selectedIds = useCallback(() => rf.getNodes().filter((n) => n.selected && n.type !== "groupbox").map((n) => n.id), [rf]);
  const onNodesChange = useCallback((changes: NodeChange[]) => {
    // Frames (box:) are ours, never changed by React Flow; removals go to Python (onBeforeDelete).
    const mine = changes.filter((c) => c.type !== "remove" && (!("id" in c) || !String(c.id).startsWith("box:")));
    if (mine.length) setNodes((ns) => applyNodeChanges(mine, ns));
  }, [setNodes]);
  // Other changes of the nodes (measurements as boxes come into view) do not hold a new selection back.
  const selTimer = useRef<{ key: string; t: number } | null>(null);
  useEffect(() => {
    const ids = nodes.filter((n) => n.selected).map((n) => n.id).sort();
    const key = ids.join(",");
    if (selTimer.current?.key === key) return;
    if (selTimer.current) clearTimeout(selTimer.current.t);
    selTimer.current = null;
    if (key === lastSel.current) return;
    selTimer.current = {
      key,
      t: window.setTimeout(() => {
        selTimer.current = null;
        lastSel.current = key;
        emit({ kind: "select", ids });
      }, SETTLE_MS),
    };
  }, [nodes, emit]);
  useEffect(() => () => { if (selTimer.current) clearTimeout(selTimer.current.t); }, []);
  const seenSelAck = useRef(-1);
  useEffect(() => {
    // A selection Python asks for counts as sent (only a new one: data is new on every run).
    if (sel && sel.n !== seenSelAck.current) {
      seenSelAck.current = sel.n;
      lastSel.current = [...sel.ids].sort().join(",");
    }
  }, [sel]);

  /** The selection if it holds `id`, else `id` alone, selected now (a context menu acts on it). */
  const ensureSel = useCallback((id: string): string[] => {
    const now = selectedIds();
    if (now.includes(id)) return now;
    setNodes((ns) => ns.map((n) => ({ ...n, selected: n.id === id })));
    return [id];
  }, [selectedIds, setNodes]);
  const selectAll = useCallback(() => setNodes((ns) => ns.map((n) => ({ ...n, selected: n.type !== "groupbox" }))), [setNodes]);
  const clearSelection = useCallback(() => setNodes((ns) => ns.map((n) => (n.selected ? { ...n, selected: false } : n))), [setNodes]);

  const [edgeSel, setEdgeSel] = useState<Set<string>>(new Set());
  const onEdgesChange = useCallback((changes: EdgeChange[]) => {
    const chosen = changes.filter((c) => c.type === "select");
    if (!chosen.length) return;
    setEdgeSel((prev) => {
      const next = new Set(prev);
      for (const c of chosen) if (c.type === "select") (c.selected ? next.add(c.id) : next.delete(c.id));
      return next;
    });
  }, []);

  return { selectedIds, onNodesChange, ensureSel, selectAll, clearSelection, edgeSel, onEdgesChange };
}
