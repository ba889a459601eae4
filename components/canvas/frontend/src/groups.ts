// Groups: which group holds a layer, where a collapsed group's box goes, the frames drawn behind expanded groups,
// and the gestures on groups (collapse or expand, ungroup, rename, group the selection).
import { useCallback, useMemo, useRef } from "react";
import type { Node } from "@xyflow/react";
import type { GroupData } from "./nodes";
import type { Say } from "./toast";
import type { Box, Data, GroupIn } from "./types";
import type { Emit, XY } from "./ui";

const PAD = 18; // room around an expanded group's layers, inside its frame
const HEAD = 26; // the frame's title bar, above that room

/** What a group's box and frame can do (GroupData without the group). */
export type GroupActions = Omit<GroupData, "g">;

/** The group of each grouped layer. */
export function groupOf(data: Data): Map<string, GroupIn> {
  const m = new Map<string, GroupIn>();
  for (const g of data.groups) for (const id of g.nodes) m.set(id, g);
  return m;
}

/** Where a collapsed group's box goes: at its top (then leftmost) layer. */
export function collapsedPlaces(data: Data, groups: Map<string, GroupIn>): Map<string, XY> {
  const at = new Map<string, XY>();
  for (const n of data.nodes) {
    const g = groups.get(n.id);
    if (!g || !g.collapsed) continue;
    const a = at.get(g.id);
    if (!a || n.y < a.y || (n.y === a.y && n.x < a.x)) at.set(g.id, { x: n.x, y: n.y });
  }
  return at;
}

/** The gestures on a group, as events to Python. */
export function useGroupActions(emit: Emit): GroupActions {
  const onToggle = useCallback((id: string, collapsed: boolean) => emit({ kind: "collapse", group: id, collapsed }), [emit]);
  const onUngroup = useCallback((id: string) => emit({ kind: "ungroup", group: id }), [emit]);
  const onRename = useCallback((id: string, name: string) => emit({ kind: "rename_group", group: id, name }), [emit]);
  return useMemo(() => ({ onToggle, onUngroup, onRename }), [onToggle, onUngroup, onRename]);
}

/** Frames behind expanded groups (nodes `box:<group id>`), from where their layers are now (`nodes`). A frame keeps
 * its node object while it stays the same: a new object is a new node to React Flow, measured again, and the
 * measurement (a change of the nodes) would make it anew once more, every frame, for as long as it is in view. */
export function useFrames(nodes: Node[], groups: GroupIn[], box: Box, actions: GroupActions): Node[] {
  const cacheRef = useRef(new Map<string, { key: string; node: Node }>());
  return useMemo(() => {
    const out: Node[] = [];
    const cache = new Map<string, { key: string; node: Node }>();
    const pos = new Map(nodes.map((n) => [n.id, n]));
    for (const g of groups) {
      if (g.collapsed) continue;
      let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
      for (const id of g.nodes) {
        const n = pos.get(id);
        if (!n) continue;
        const w = n.measured?.width ?? box.w, h = n.measured?.height ?? box.h;
        x0 = Math.min(x0, n.position.x); y0 = Math.min(y0, n.position.y);
        x1 = Math.max(x1, n.position.x + w); y1 = Math.max(y1, n.position.y + h);
      }
      if (!isFinite(x0)) continue;
      const id = `box:${g.id}`;
      const key = `${x0},${y0},${x1},${y1}|${JSON.stringify(g)}`;
      const prev = cacheRef.current.get(id);
      const node = prev && prev.key === key ? prev.node : {
        id, type: "groupbox", position: { x: x0 - PAD, y: y0 - PAD - HEAD },
        data: { g, ...actions } satisfies GroupData,
        // Fixed dimensions: React Flow draws a node only once it knows its size, and these are never measured.
        width: x1 - x0 + 2 * PAD, height: y1 - y0 + 2 * PAD + HEAD,
        draggable: false, selectable: false, connectable: false, focusable: false, zIndex: -1,
      } as Node;
      cache.set(id, { key, node });
      out.push(node);
    }
    cacheRef.current = cache;
    return out;
  }, [nodes, groups, box, actions]);
}

/** Groups the selected layers (the toolbar's Group, Ctrl+G). */
export function useGroupSelection(selectedIds: () => string[], emit: Emit, say: Say): () => void {
  return useCallback(() => {
    const ids = selectedIds().filter((id) => !id.startsWith("g:"));
    if (!ids.length) {
      say("Select the layers to group first (Shift-click, or drag a box with Shift held).", "info");
      return;
    }
    emit({ kind: "group", ids });
  }, [selectedIds, emit, say]);
}
