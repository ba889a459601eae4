// The view: fitting it (never above 100%, never below readable; a tall graph starts at its top and scrolls), keeping
// it across a new element, the handles' size at any zoom, and telling Python when the nodes are painted.
// The view is the user's: it changes only on Fit view, on the first open, and once for each fit Python asks for (an
// expand, a collapse, an auto-layout), right when the data that asks arrives; never on a later rerun.
import { useCallback, useEffect, useRef } from "react";
import { useReactFlow, useStore, useStoreApi, type Node, type Rect, type Viewport } from "@xyflow/react";
import { collapsedPlaces, groupOf } from "./groups";
import type { Data, View } from "./types";
import type { Emit } from "./ui";

const MIN_FIT_ZOOM = 0.85; // node text is 13 px: a fit never shows it below 11 px; a taller graph scrolls instead
const PRESENT_ZOOM = [1, 1.3]; // presenter mode: a fit shows node text at 13 to 17 px (a projector, a room away)
const START: Viewport = { x: 40, y: 40, zoom: 1 };
const RESIZE_PX = 40; // a change of the canvas's size below this in both directions does not refit

/** What a canvas keeps of its view when Streamlit draws its element anew (index.tsx keeps one per canvas): the
 * view the user panned to, and `fit`, the last fit request (Data.fit) carried out. */
export type Kept = {
  fit: number; reveal: number | null; copy: number | null; viewport: Viewport | null;
  /** The user has panned or zoomed since the last fit: a window resize then leaves the view alone. */
  moved: boolean;
};

/** What covers the flow's edges (px): the toolbar on top, the zoom buttons at the bottom left, and room around. */
const INSET = { top: 48, left: 52, right: 16, bottom: 16 };
const MINIMAP = { w: 166, h: 126 }; // .lc-minimap and its margin, at the bottom right when drawn
const MINIMAP_FROM = 20; // the minimap is drawn for graphs of more layers than this

/** Whether the canvas draws its minimap for a graph of `n` layers. */
export const hasMinimap = (n: number): boolean => n > MINIMAP_FROM;

/** The part of the flow a person sees, clear of the toolbar, the zoom buttons and the minimap, in flow
 * coordinates: [x0, y0, x1, y1]. A layer added on its own lands inside it. */
export function visibleView(el: HTMLElement | null, vp: Viewport, minimap: boolean): View | null {
  if (!el) return null;
  const W = el.clientWidth, H = el.clientHeight;
  const bottom = minimap ? Math.max(INSET.bottom, MINIMAP.h) : INSET.bottom;
  if (W <= INSET.left + INSET.right || H <= INSET.top + bottom) return null;
  const z = vp.zoom || 1;
  return [(INSET.left - vp.x) / z, (INSET.top - vp.y) / z, (W - INSET.right - vp.x) / z, (H - bottom - vp.y) / z];
}

/** Fit view (the toolbar's), and the view to start from. Carries out each fit Python asks for, once. */
export function useView(data: Data, flowRef: React.RefObject<HTMLDivElement | null>, kept: Kept) {
  const rf = useReactFlow();
  const present = data.present;
  const fitRect = useCallback((b: Rect | null) => {
    const el = flowRef.current;
    if (!el) return;
    let vp: Viewport = START;
    if (b) {
      // Room for the toolbar above the graph, and for the zoom buttons and minimap below it.
      const W = el.clientWidth, H = el.clientHeight, pad = 30, top = 52, bottom = 30;
      let z = Math.min((W - 2 * pad) / Math.max(b.width, 1), (H - top - bottom) / Math.max(b.height, 1));
      const [lo, hi] = present ? PRESENT_ZOOM : [MIN_FIT_ZOOM, 1];
      z = Math.max(lo, Math.min(hi, z));
      const x = b.width * z <= W - 2 * pad ? (W - b.width * z) / 2 - b.x * z : pad - b.x * z;
      const y = b.height * z <= H - top - bottom ? top + (H - top - bottom - b.height * z) / 2 - b.y * z : top - b.y * z;
      vp = { x, y, zoom: z };
    }
    rf.setViewport(vp);
    kept.moved = false;
  }, [rf, flowRef, kept, present]);

  // A fit Python asks for: the boxes of that data, where Python puts them, sized as measured where they have been
  // (new ones as a layer box). It needs no measuring: with only the boxes in view drawn (a big graph), waiting
  // until all are measured once let a fit land on some later rerun, long after the user had moved the view.
  const fitData = useCallback((d: Data) => {
    const gs = groupOf(d);
    let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
    const add = (id: string, x: number, y: number) => {
      const m = rf.getInternalNode(id)?.measured;
      x0 = Math.min(x0, x); y0 = Math.min(y0, y);
      x1 = Math.max(x1, x + (m?.width ?? d.box.w)); y1 = Math.max(y1, y + (m?.height ?? d.box.h));
    };
    for (const n of d.nodes) if (!gs.get(n.id)?.collapsed) add(n.id, n.x, n.y);
    for (const [gid, at] of collapsedPlaces(d, gs)) add(`g:${gid}`, at.x, at.y);
    fitRect(isFinite(x0) ? { x: x0, y: y0, width: x1 - x0, height: y1 - y0 } : null);
  }, [rf, fitRect]);
  // Fit view (the toolbar's): the same fit, of the graph as it is now. Not of the boxes React Flow has measured:
  // a big graph draws only the boxes in view, and one never drawn would count as a point.
  const dataRef = useRef(data);
  dataRef.current = data;
  const fit = useCallback(() => fitData(dataRef.current), [fitData]);
  useEffect(() => {
    if (data.fit === kept.fit) return;
    kept.fit = data.fit; // at most once per request, whatever comes next
    let tries = 0;
    const go = () => {
      if (!rf.viewportInitialized && tries++ < 30) requestAnimationFrame(go);
      else fitData(data);
    };
    requestAnimationFrame(go);
  }, [data, rf, fitData, kept]);
  // Layers Python added: if one is not whole in view, the view pans (at the same zoom) just enough to show them
  // all, or their top-left when they do not fit. Once per request, as a fit.
  useEffect(() => {
    const n = data.reveal.n;
    if (kept.reveal === null) { kept.reveal = n; return; } // the canvas drawn anew: an old request is done
    if (n === kept.reveal) return;
    kept.reveal = n;
    const ids = new Set(data.reveal.ids);
    const shown = data.nodes.filter((d) => ids.has(d.id));
    if (!shown.length) return;
    let tries = 0;
    const go = () => {
      // Once the new boxes are measured (a box with a message is taller than an unmeasured one is taken to be).
      const unmeasured = shown.some((d) => !rf.getInternalNode(d.id)?.measured?.height);
      if ((!rf.viewportInitialized || unmeasured) && tries++ < 30) { requestAnimationFrame(go); return; }
      const vp = rf.getViewport();
      const v = visibleView(flowRef.current, vp, hasMinimap(data.nodes.length));
      if (!v) return;
      let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
      for (const d of shown) {
        const m = rf.getInternalNode(d.id)?.measured;
        x0 = Math.min(x0, d.x); y0 = Math.min(y0, d.y);
        x1 = Math.max(x1, d.x + (m?.width ?? data.box.w)); y1 = Math.max(y1, d.y + (m?.height ?? data.box.h));
      }
      const shift = (lo: number, hi: number, vlo: number, vhi: number) =>
        hi - lo > vhi - vlo || lo < vlo ? vlo - lo : hi > vhi ? vhi - hi : 0;
      const dx = shift(x0, x1, v[0], v[2]), dy = shift(y0, y1, v[1], v[3]);
      if (dx || dy) rf.setViewport({ x: vp.x + dx * vp.zoom, y: vp.y + dy * vp.zoom, zoom: vp.zoom }, { duration: 200 });
    };
    requestAnimationFrame(go);
  }, [data, rf, flowRef, kept]);
  // A window resized (or the sidebar folded): the view fits again, unless the user has moved it since the last fit.
  // A few pixels (a page scrollbar coming or going) are no resize.
  const lastSize = useRef<{ w: number; h: number } | null>(null);
  useEffect(() => {
    const el = flowRef.current;
    if (!el || typeof ResizeObserver === "undefined") return;
    const ro = new ResizeObserver(() => {
      const w = el.clientWidth, h = el.clientHeight, last = lastSize.current;
      if (last && Math.abs(w - last.w) < RESIZE_PX && Math.abs(h - last.h) < RESIZE_PX) return;
      lastSize.current = { w, h };
      if (last && !kept.moved && w > 0) fitData(dataRef.current);
    });
    ro.observe(el);
    return () => ro.disconnect();
  }, [flowRef, fitData, kept]);
  /** React Flow's onMoveStart and onMoveEnd: a move the user makes (not one the canvas makes) keeps the view on
   * resize. A click on the empty canvas (to deselect) starts a move that goes nowhere: that is no move. The wheel
   * pans (panOnScroll), and its start comes once it has moved. */
  const moveFrom = useRef<Viewport | null>(null);
  const onMoveStart = useCallback((event: unknown, vp: Viewport) => {
    moveFrom.current = event ? vp : null;
    if ((event as Event | null)?.type === "wheel") kept.moved = true;
  }, [kept]);
  // (A zoom's end may come from a timer, with no event: the start says whose move it was.)
  const onMoveEnd = useCallback((_event: unknown, vp: Viewport) => {
    const from = moveFrom.current;
    moveFrom.current = null;
    if (from && (from.x !== vp.x || from.y !== vp.y || from.zoom !== vp.zoom)) kept.moved = true;
  }, [kept]);
  // The view as it is now, for when the element is drawn anew.
  const store = useStoreApi();
  useEffect(() => store.subscribe((st, old) => {
    if (st.transform !== old.transform) kept.viewport = { x: st.transform[0], y: st.transform[1], zoom: st.transform[2] };
  }), [store, kept]);
  return { fit, onMoveStart, onMoveEnd, startView: kept.viewport ?? START };
}

/** Once the nodes are painted (measured, so visible), says so when Python waits for it (`data.wait`: the session's
 * first paint; the page then draws the rest and loads TensorFlow). Otherwise it sends nothing: a canvas drawn again
 * (back on the Build page) would make a rerun that nobody needs, and a rerun sent just after a click on a sidebar
 * link carries the old page and takes the click's place. */
export function useReadySignal(nodes: Node[], data: Data, emit: Emit): void {
  const sent = useRef(false);
  const initialized = nodes.length > 0 && nodes.every((n) => !!n.measured?.width);
  const drawn = initialized || data.nodes.length === 0;
  const wait = data.wait;
  useEffect(() => {
    if (!sent.current && drawn && wait) {
      sent.current = true;
      // After two frames: the one that shows the nodes has been painted.
      requestAnimationFrame(() => requestAnimationFrame(() => setTimeout(() => emit({ kind: "ready" }), 50)));
    }
  }, [drawn, wait, emit]);
}

/** When Python asks for it (`data.sync` changed), a sync event once the frame showing this data has been painted:
 * the page then draws what follows the canvas (the column beside it) after the canvas, not before it. The value
 * seen when the canvas mounts asks nothing (a canvas drawn anew comes with the whole page). */
export function useSyncSignal(sync: number, emit: Emit): void {
  const seen = useRef(sync);
  useEffect(() => {
    if (sync === seen.current) return;
    seen.current = sync;
    requestAnimationFrame(() => requestAnimationFrame(() => emit({ kind: "sync" })));
  }, [sync, emit]);
}

/** Handles keep at least 14 screen pixels whatever the zoom (easy to hit when zoomed out): their CSS size. */
export function useHandleSize(): string {
  const zoom = useStore((st) => st.transform[2]);
  return `${Math.round(Math.max(14, 14 / Math.max(zoom, 0.1)))}px`;
}
