// Keys (while the canvas has focus) and the gestures on the canvas as a whole: a press anywhere focuses it (and
// closes the menu), a double-click on the empty canvas opens the quick-add box, a right-click the context menu.
import { useCallback } from "react";
import type { Clip } from "./clipboard";
import type { Data } from "./types";
import type { Menu, QuickAdd, XY } from "./ui";

export type KeyActions = {
  openQuick: (clientX: number, clientY: number) => void;
  copy: () => void;
  pasteSoon: () => void;
  clipOf: (ids: string[]) => Clip | null;
  pasteClip: (clip: Clip) => void;
  selectedIds: () => string[];
  groupSelection: () => void;
  selectAll: () => void;
  clearSelection: () => void;
};

export function useGestures(dataRef: React.RefObject<Data>, wrapRef: React.RefObject<HTMLDivElement | null>,
  mouse: React.RefObject<XY>, setMenu: (m: Menu) => void, setQuick: (q: QuickAdd) => void,
  flowAt: (clientX: number, clientY: number) => XY, act: KeyActions) {
  const { openQuick, copy, pasteSoon, clipOf, pasteClip, selectedIds, groupSelection, selectAll, clearSelection } = act;
  const onKeyDown = useCallback((e: React.KeyboardEvent) => {
    const t = e.target as HTMLElement;
    if (t.closest("input, textarea")) return;
    const mod = e.ctrlKey || e.metaKey;
    const k = e.key.toLowerCase();
    // Read-only: only copying, selecting all and Escape.
    if (dataRef.current.ro && e.key !== "Escape" && !(mod && (k === "c" || k === "a"))) return;
    if (e.key === "/" && !mod) {
      e.preventDefault();
      openQuick(mouse.current.x, mouse.current.y);
    } else if (mod && k === "c") {
      copy();
    } else if (mod && k === "v") {
      pasteSoon();
    } else if (mod && k === "d") {
      e.preventDefault();
      const clip = clipOf(selectedIds());
      if (clip) pasteClip(clip);
    } else if (mod && k === "g") {
      e.preventDefault();
      groupSelection();
    } else if (mod && k === "a") {
      e.preventDefault();
      selectAll();
    } else if (e.key === "Escape") {
      setMenu(null);
      setQuick(null);
      clearSelection();
    }
  }, [dataRef, mouse, openQuick, copy, pasteSoon, clipOf, pasteClip, selectedIds, groupSelection, selectAll, clearSelection,
    setMenu, setQuick]);

  const onPointerDownCapture = useCallback((e: React.PointerEvent) => {
    const t = e.target as HTMLElement;
    if (!t.closest("input, textarea, .lc-menu, .lc-quick")) {
      wrapRef.current?.focus({ preventScroll: true });
      if (!t.closest(".lc-menu")) setMenu(null);
    }
  }, [wrapRef, setMenu]);

  const onDoubleClick = useCallback((e: React.MouseEvent) => {
    const t = e.target as HTMLElement;
    if (dataRef.current.ro) return;
    if (t.closest(".react-flow__pane") && !t.closest(".react-flow__node")) openQuick(e.clientX, e.clientY);
  }, [dataRef, openQuick]);

  const contextMenu = useCallback((e: React.MouseEvent | MouseEvent, extra: { node?: string; edge?: string }) => {
    e.preventDefault();
    const box = wrapRef.current?.getBoundingClientRect();
    if (!box || dataRef.current.ro) return;
    setQuick(null);
    setMenu({ x: e.clientX - box.left, y: e.clientY - box.top, flow: flowAt(e.clientX, e.clientY), ...extra });
  }, [wrapRef, dataRef, setQuick, setMenu, flowAt]);

  return { onKeyDown, onPointerDownCapture, onDoubleClick, contextMenu };
}
