// The quick-add box: type a layer's name where you are (double-click or / on the canvas, the context menus).
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { useReactFlow } from "@xyflow/react";
import { GRAB_Y } from "./adding";
import { searchPalette } from "./Palette";
import type { Data } from "./types";
import type { Emit, Menu, QuickAdd, XY } from "./ui";

/** The box's size (.lc-quick: 230 px wide; its input and a list of at most 240 px). */
const BOX = { w: 230, h: 280 };

/** Where the box goes for a point (x, y) in the canvas: there, or moved left or above so that it stays whole
 * inside the canvas (it never widens the page or is cut at the bottom). */
function inside(x: number, y: number, wrap: HTMLElement | null): XY {
  const W = wrap?.clientWidth ?? 0, H = wrap?.clientHeight ?? 0;
  const left = Math.max(4, Math.min(x, W - BOX.w - 4));
  const top = y + BOX.h <= H - 4 ? y : Math.max(4, Math.min(y - BOX.h, H - BOX.h - 4));
  return { x: left, y: top };
}

export function useQuickAdd(quick: QuickAdd, setQuick: (q: QuickAdd) => void, setMenu: (m: Menu) => void,
  wrapRef: React.RefObject<HTMLDivElement | null>, flowRef: React.RefObject<HTMLDivElement | null>,
  dataRef: React.RefObject<Data>, flowAt: (clientX: number, clientY: number) => XY, emit: Emit,
  selectedIds: () => string[]) {
  const rf = useReactFlow();
  /** Opens the box at a point on the screen (`extra`: insert into an edge, or add after a layer). */
  const openQuick = useCallback((clientX: number, clientY: number, extra?: { edge?: string; after?: string }) => {
    const box = wrapRef.current?.getBoundingClientRect();
    if (!box) return;
    setMenu(null);
    setQuick({ ...inside(clientX - box.left, clientY - box.top, wrapRef.current), flow: flowAt(clientX, clientY), ...extra });
  }, [wrapRef, setMenu, setQuick, flowAt]);
  /** Opens the box where a context menu was. */
  const openQuickAt = useCallback((m: NonNullable<Menu>, extra: { edge?: string }) => {
    const box = wrapRef.current?.getBoundingClientRect();
    if (!box) return;
    setQuick({ ...inside(m.x, m.y, wrapRef.current), flow: m.flow, ...extra });
  }, [wrapRef, setQuick]);
  /** Opens the box just below a layer, to add one after it. */
  const openQuickAfter = useCallback((id: string) => {
    const n = rf.getNode(id);
    const box = wrapRef.current?.getBoundingClientRect();
    if (!n || !box) return;
    const vp = rf.getViewport();
    const h = n.measured?.height ?? dataRef.current.box.h;
    setQuick({ ...inside(n.position.x * vp.zoom + vp.x + (flowRef.current?.offsetLeft ?? 0), (n.position.y + h + 10) * vp.zoom + vp.y,
      wrapRef.current), flow: n.position, after: id });
  }, [rf, wrapRef, flowRef, dataRef, setQuick]);
  const quickPick = useCallback((type: string) => {
    if (!quick) return;
    const x = quick.flow.x - dataRef.current.box.w / 2, y = quick.flow.y - GRAB_Y;
    // With one layer selected, a layer added by name goes after it, as a palette click does.
    const sel = selectedIds().filter((id) => !id.startsWith("g:"));
    if (quick.edge) emit({ kind: "add", type, edge: quick.edge, x, y });
    else if (quick.after) emit({ kind: "add", type, connect: quick.after });
    else if (sel.length === 1) emit({ kind: "add", type, after: sel[0] });
    else emit({ kind: "add", type, x, y });
    setQuick(null);
    wrapRef.current?.focus({ preventScroll: true });
  }, [quick, dataRef, emit, setQuick, wrapRef, selectedIds]);
  return { openQuick, openQuickAt, openQuickAfter, quickPick };
}

export function QuickAddBox({ at, items, onPick, onClose, onMiss }: {
  at: NonNullable<QuickAdd>; items: Data["palette"]; onPick: (t: string) => void; onClose: () => void; onMiss: (t: string) => void;
}) {
  const [text, setText] = useState("");
  const [index, setIndex] = useState(0);
  const found = useMemo(() => searchPalette(items, text).slice(0, 8), [items, text]);
  const input = useRef<HTMLInputElement>(null);
  useEffect(() => input.current?.focus(), []);
  return (
    <div className="lc-quick" style={{ left: at.x, top: at.y }}>
      <input ref={input} value={text} placeholder={at.edge ? "Insert a layer…" : "Add a layer…"} aria-label="Layer type"
        onChange={(e) => { setText(e.target.value); setIndex(0); }}
        onKeyDown={(e) => {
          e.stopPropagation();
          if (e.key === "Escape") onClose();
          else if (e.key === "ArrowDown") { e.preventDefault(); setIndex((i) => Math.min(i + 1, found.length - 1)); }
          else if (e.key === "ArrowUp") { e.preventDefault(); setIndex((i) => Math.max(i - 1, 0)); }
          else if (e.key === "Enter") {
            e.preventDefault();
            if (found[index]) onPick(found[index].type);
            else if (text.trim()) onMiss(text.trim().slice(0, 40));
          }
        }}
        onBlur={() => setTimeout(onClose, 150)} />
      <div className="lc-quick-list" role="listbox">
        {found.map((f, i) => (
          <div key={f.type} role="option" aria-selected={i === index} className={"lc-quick-item" + (i === index ? " active" : "")}
            onMouseDown={(e) => { e.preventDefault(); onPick(f.type); }} title={f.help}>
            <span className={`lc-dot cat-${f.cat}`} />{f.type}<span className="lc-quick-cat">{f.cat}</span>
          </div>
        ))}
        {!found.length && <div className="lc-quick-none">No layer matches.</div>}
      </div>
    </div>
  );
}
