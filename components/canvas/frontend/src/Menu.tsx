// The context menu: on a layer, on a collapsed group, on a connection, or on the empty canvas. Every item closes it
// first, then acts.
import { heldClip, type Clip } from "./clipboard";
import type { GroupActions } from "./groups";
import type { NodeIn } from "./types";
import type { Emit, Menu, XY } from "./ui";

export type MenuActions = {
  emit: Emit;
  groups: GroupActions;
  ensureSel: (id: string) => string[];
  clipOf: (ids: string[]) => Clip | null;
  pasteClip: (clip: Clip, at?: XY) => void;
  copy: () => void;
  deleteSelection: (nodeIds?: string[], edgeIds?: string[]) => void;
  openQuickAt: (m: NonNullable<Menu>, extra: { edge?: string }) => void;
  openQuickAfter: (id: string) => void;
  fit: () => void;
};

export function ContextMenu({ menu, byId, close, act }: {
  menu: NonNullable<Menu>; byId: Map<string, NodeIn>; close: () => void; act: MenuActions;
}) {
  const { emit, groups, ensureSel, clipOf, pasteClip, copy, deleteSelection, openQuickAt, openQuickAfter, fit } = act;
  return (
    <div className="lc-menu" style={{ left: menu.x, top: menu.y }} role="menu">
      {menu.node && !menu.node.startsWith("g:") && (
        <>
          <button role="menuitem" onClick={() => { close(); openQuickAfter(menu.node!); }}>Add a layer after it…</button>
          <button role="menuitem" onClick={() => { close(); const c = clipOf(ensureSel(menu.node!)); if (c) pasteClip(c); }}>Duplicate</button>
          <button role="menuitem" onClick={() => { close(); ensureSel(menu.node!); copy(); }}>Copy</button>
          <button role="menuitem" onClick={() => { close(); const ids = ensureSel(menu.node!); emit({ kind: "group", ids: ids.filter((i) => !i.startsWith("g:")) }); }}>Group</button>
          {byId.get(menu.node)?.group && (
            <button role="menuitem" onClick={() => { close(); groups.onToggle(byId.get(menu.node!)!.group!, true); }}>Collapse its group</button>
          )}
          <button role="menuitem" className="danger" onClick={() => { close(); deleteSelection(ensureSel(menu.node!), []); }}>Delete</button>
        </>
      )}
      {menu.node && menu.node.startsWith("g:") && (
        <>
          <button role="menuitem" onClick={() => { close(); groups.onToggle(menu.node!.slice(2), false); }}>Expand</button>
          <button role="menuitem" onClick={() => { close(); groups.onUngroup(menu.node!.slice(2)); }}>Ungroup</button>
          <button role="menuitem" className="danger" onClick={() => { close(); deleteSelection([menu.node!], []); }}>Delete its layers</button>
        </>
      )}
      {menu.edge && (
        <>
          <button role="menuitem" onClick={() => { close(); openQuickAt(menu, { edge: menu.edge }); }}>Insert a layer here…</button>
          <button role="menuitem" className="danger" onClick={() => { close(); emit({ kind: "delete", nodes: [], edges: [menu.edge!] }); }}>Delete connection</button>
        </>
      )}
      {!menu.node && !menu.edge && (
        <>
          <button role="menuitem" onClick={() => { close(); openQuickAt(menu, {}); }}>Add a layer here…</button>
          <button role="menuitem" disabled={!heldClip()} onClick={() => { close(); const c = heldClip(); if (c) pasteClip(c, { x: menu.flow.x, y: menu.flow.y }); }}>Paste</button>
          <button role="menuitem" onClick={() => { close(); emit({ kind: "layout" }); }}>Auto-layout</button>
          <button role="menuitem" onClick={() => { close(); fit(); }}>Fit view</button>
        </>
      )}
    </div>
  );
}
