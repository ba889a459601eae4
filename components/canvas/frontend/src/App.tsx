// The canvas: palette, React Flow graph, quick-add box, context menu, toolbar and messages.
// Python owns the graph. Every gesture becomes an event (see types.ts) that Python applies and answers with
// new data; what the canvas knows it can refuse at once (a cycle, a wrong port), it refuses with a message.
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import {
  Background,
  Controls,
  MiniMap,
  ReactFlow,
  ReactFlowProvider,
  SelectionMode,
  applyNodeChanges,
  getNodesBounds,
  useReactFlow,
  useStore,
  useStoreApi,
  useUpdateNodeInternals,
  type Connection,
  type Edge,
  type Node,
  type NodeChange,
  type OnConnectEnd,
  type EdgeChange,
  type Rect,
  type Viewport,
} from "@xyflow/react";
import { edgeTypes, nodeTypes, type GroupData, type LayerData } from "./nodes";
import { Palette, searchPalette } from "./Palette";
import { portOf, successorsOf, whyNot as connectRefusal } from "./rules";
import type { CanvasEvent, ClipEdge, ClipNode, Data, GroupIn, NodeIn } from "./types";

/** What Ctrl+C puts on the clipboard (as JSON text): layers and the connections between them. */
type Clip = { format: "layercanvas-clip"; version: 1; nodes: ClipNode[]; edges: ClipEdge[] };

const MIN_FIT_ZOOM = 0.93; // node text is 13 px: a fit never shows it below 12 px; a taller graph scrolls instead
const GROUP_PAD = 18;

type Send = (ev: CanvasEvent, v: number) => void;
type Toast = { kind: "error" | "warning" | "info"; text: string; n: number };
type Menu = { x: number; y: number; flow: { x: number; y: number }; node?: string; edge?: string } | null;
type QuickAdd = { x: number; y: number; flow: { x: number; y: number }; edge?: string; after?: string } | null;

let localClip: Clip | null = null; // what Ctrl+C copied, when the system clipboard cannot be read
// The view, kept for the page's life: Streamlit may draw the element anew (a page switch, a rerun that changes what is
// above it; the new element mounts before the old one leaves), and the view the user panned to must come back with
// it, not a fit. `fit`: the last fit request (Data.fit) carried out.
const kept: { fit: number; viewport: Viewport | null } = { fit: -1, viewport: null };

export function App(props: { data: Data; send: Send; rootNode: HTMLElement | ShadowRoot }) {
  return (
    <ReactFlowProvider>
      <Canvas {...props} />
    </ReactFlowProvider>
  );
}

function groupOf(data: Data): Map<string, GroupIn> {
  const m = new Map<string, GroupIn>();
  for (const g of data.groups) for (const id of g.nodes) m.set(id, g);
  return m;
}

/** Where a collapsed group's box goes: at its top (then leftmost) layer. */
function collapsedPlaces(data: Data, groups: Map<string, GroupIn>): Map<string, { x: number; y: number }> {
  const at = new Map<string, { x: number; y: number }>();
  for (const n of data.nodes) {
    const g = groups.get(n.id);
    if (!g || !g.collapsed) continue;
    const a = at.get(g.id);
    if (!a || n.y < a.y || (n.y === a.y && n.x < a.x)) at.set(g.id, { x: n.x, y: n.y });
  }
  return at;
}

function Canvas({ data, send, rootNode }: { data: Data; send: Send; rootNode: HTMLElement | ShadowRoot }) {
  const rf = useReactFlow();
  const wrapRef = useRef<HTMLDivElement>(null);
  const flowRef = useRef<HTMLDivElement>(null);
  const [nodes, setNodes] = useState<Node[]>([]);
  const [toast, setToast] = useState<Toast | null>(null);
  const [menu, setMenu] = useState<Menu>(null);
  const [quick, setQuick] = useState<QuickAdd>(null);
  const [ghost, setGhost] = useState<{ type: string; x: number; y: number } | null>(null);
  const mouse = useRef({ x: 0, y: 0 });
  const lastSel = useRef<string>("");
  const seenSel = useRef(0);
  const seenToast = useRef(0);
  const dataRef = useRef(data);
  dataRef.current = data;
  const v = data.v;
  const emit = useCallback((ev: CanvasEvent) => {
    // A read-only project sends selections only: nothing else would be applied.
    if (dataRef.current.ro && ev.kind !== "select" && ev.kind !== "ready") return;
    send(ev, dataRef.current.v);
  }, [send]);

  const say = useCallback((text: string, kind: Toast["kind"] = "error") => {
    setToast({ text, kind, n: Date.now() });
  }, []);
  useEffect(() => {
    if (!toast) return;
    const t = setTimeout(() => setToast(null), toast.kind === "error" ? 6000 : 3500);
    return () => clearTimeout(t);
  }, [toast]);
  useEffect(() => {
    if (data.toast && data.toast.n !== seenToast.current) {
      seenToast.current = data.toast.n;
      setToast({ ...data.toast });
    }
  }, [data.toast]);

  const byId = useMemo(() => new Map(data.nodes.map((n) => [n.id, n])), [data.nodes]);
  const groups = useMemo(() => groupOf(data), [data]);
  // A collapsed group's box is the node `g:<group id>`.
  const boxGroup = useMemo(() => new Map(data.groups.map((g) => [`g:${g.id}`, g])), [data.groups]);
  const toggleGroup = useCallback((id: string, collapsed: boolean) => emit({ kind: "collapse", group: id, collapsed }), [emit]);
  const ungroup = useCallback((id: string) => emit({ kind: "ungroup", group: id }), [emit]);
  const renameGroup = useCallback((id: string, name: string) => emit({ kind: "rename_group", group: id, name }), [emit]);

  // Nodes from Python, merged into what React Flow holds (measured sizes, selection, a drag in progress).
  useEffect(() => {
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
        const key = JSON.stringify(n) + (data.building ? "b" : "");
        if (p && (p.data as LayerData).key === key && !!p.selected === selected && !p.dragging) {
          out.push(p);
          continue;
        }
        out.push({
          ...(p ?? {}),
          id: n.id,
          type: "layer",
          position: p?.dragging ? p.position : { x: n.x, y: n.y },
          data: { n, building: data.building, key } satisfies LayerData,
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
          data: { g, onToggle: toggleGroup, onUngroup: ungroup, onRename: renameGroup } satisfies GroupData,
          selected: wantSel ? wantSel.has(id) : !!p?.selected,
        } as Node);
      }
      return out;
    });
  }, [data, groups, toggleGroup, ungroup, renameGroup]);

  // Handles appear and disappear with ports: React Flow must measure them again.
  const updateInternals = useUpdateNodeInternals();
  const portKey = useRef(new Map<string, string>());
  useEffect(() => {
    const changed: string[] = [];
    for (const n of data.nodes) {
      const k = n.ports.join("|");
      if (portKey.current.has(n.id) && portKey.current.get(n.id) !== k) changed.push(n.id);
      portKey.current.set(n.id, k);
    }
    if (changed.length) requestAnimationFrame(() => updateInternals(changed));
  }, [data.nodes, updateInternals]);

  // Frames behind expanded groups, from where their layers are now. A frame keeps its node object while it stays
  // the same: a new object is a new node to React Flow, measured again, and the measurement (a change of the nodes)
  // would make it anew once more, every frame, for as long as the frame is in view.
  const boxCache = useRef(new Map<string, { key: string; node: Node }>());
  const boxes = useMemo(() => {
    const out: Node[] = [];
    const cache = new Map<string, { key: string; node: Node }>();
    const pos = new Map(nodes.map((n) => [n.id, n]));
    for (const g of data.groups) {
      if (g.collapsed) continue;
      let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
      for (const id of g.nodes) {
        const n = pos.get(id);
        if (!n) continue;
        const w = n.measured?.width ?? data.box.w, h = n.measured?.height ?? data.box.h;
        x0 = Math.min(x0, n.position.x); y0 = Math.min(y0, n.position.y);
        x1 = Math.max(x1, n.position.x + w); y1 = Math.max(y1, n.position.y + h);
      }
      if (!isFinite(x0)) continue;
      const id = `box:${g.id}`;
      const key = `${x0},${y0},${x1},${y1}|${JSON.stringify(g)}`;
      const prev = boxCache.current.get(id);
      const node = prev && prev.key === key ? prev.node : {
        id, type: "groupbox", position: { x: x0 - GROUP_PAD, y: y0 - GROUP_PAD - 26 },
        data: { g, onToggle: toggleGroup, onUngroup: ungroup, onRename: renameGroup } satisfies GroupData,
        // Fixed dimensions: React Flow draws a node only once it knows its size, and these are never measured.
        width: x1 - x0 + 2 * GROUP_PAD, height: y1 - y0 + 2 * GROUP_PAD + 26,
        draggable: false, selectable: false, connectable: false, focusable: false, zIndex: -1,
      } as Node;
      cache.set(id, { key, node });
      out.push(node);
    }
    boxCache.current = cache;
    return out;
  }, [nodes, data.groups, data.box, toggleGroup, ungroup, renameGroup]);

  const [edgeSel, setEdgeSel] = useState<Set<string>>(new Set());
  const edgeCache = useRef(new Map<string, { key: string; edge: Edge }>());
  const edges: Edge[] = useMemo(() => {
    const out: Edge[] = [];
    const cache = new Map<string, { key: string; edge: Edge }>();
    const seen = new Set<string>();
    const end = (id: string) => {
      const g = groups.get(id);
      return g && g.collapsed ? `g:${g.id}` : id;
    };
    for (const e of data.edges) {
      const s = end(e.source), t = end(e.target);
      if (s === t) continue; // inside a collapsed group
      const target = byId.get(e.target);
      const ported = t === e.target && target && target.ports.length > 0;
      const handle = t !== e.target ? "in" : ported ? `in-${e.port ?? 0}` : "in";
      const key = `${s}>${t}>${handle}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const selected = edgeSel.has(e.id);
      const ekey = `${key}|${e.id}|${e.label}|${selected}`;
      const prev = edgeCache.current.get(e.id);
      const edge: Edge = prev && prev.key === ekey ? prev.edge : {
        id: e.id, source: s, target: t, sourceHandle: "out", targetHandle: handle, type: "shape", selected,
        label: e.label || undefined, labelBgPadding: [4, 2], labelBgBorderRadius: 3, labelShowBg: true,
        className: "lc-edge", markerEnd: { type: "arrowclosed" as never, width: 16, height: 16 },
      };
      cache.set(e.id, { key: ekey, edge });
      out.push(edge);
    }
    edgeCache.current = cache;
    return out;
  }, [data.edges, byId, groups, edgeSel]);

  // -- fitting: never above 100%, never below readable; a tall graph starts at its top and scrolls --
  // The view is the user's: it changes only on Fit view, on the first open, and once for each fit Python asks for
  // (an expand, a collapse, an auto-layout), right when the data that asks arrives; never on a later rerun.
  const fitRect = useCallback((b: Rect | null) => {
    const el = flowRef.current;
    if (!el) return;
    let vp: Viewport = { x: 40, y: 40, zoom: 1 };
    if (b) {
      // Room for the toolbar above the graph, and for the zoom buttons and minimap below it.
      const W = el.clientWidth, H = el.clientHeight, pad = 30, top = 52, bottom = 30;
      let z = Math.min((W - 2 * pad) / Math.max(b.width, 1), (H - top - bottom) / Math.max(b.height, 1));
      z = Math.max(MIN_FIT_ZOOM, Math.min(1, z));
      const x = b.width * z <= W - 2 * pad ? (W - b.width * z) / 2 - b.x * z : pad - b.x * z;
      const y = b.height * z <= H - top - bottom ? top + (H - top - bottom - b.height * z) / 2 - b.y * z : top - b.y * z;
      vp = { x, y, zoom: z };
    }
    rf.setViewport(vp);
  }, [rf]);
  // Fit view: what is drawn now.
  const fit = useCallback(() => {
    const vis = rf.getNodes().filter((n) => n.type !== "groupbox");
    fitRect(vis.length ? getNodesBounds(vis) : null);
  }, [rf, fitRect]);
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
  useEffect(() => {
    if (data.fit === kept.fit) return;
    kept.fit = data.fit; // at most once per request, whatever comes next
    let tries = 0;
    const go = () => {
      if (!rf.viewportInitialized && tries++ < 30) requestAnimationFrame(go);
      else fitData(data);
    };
    requestAnimationFrame(go);
  }, [data, rf, fitData]);
  // The view as it is now, for when the element is drawn anew (see `kept`).
  const store = useStoreApi();
  useEffect(() => store.subscribe((st, old) => {
    if (st.transform !== old.transform) kept.viewport = { x: st.transform[0], y: st.transform[1], zoom: st.transform[2] };
  }), [store]);
  const initialized = nodes.length > 0 && nodes.every((n) => !!n.measured?.width);
  // Once the nodes are painted (measured, so visible), say so: the page waits for it before drawing the rest
  // and loading TensorFlow.
  const sentReady = useRef(false);
  const drawn = initialized || data.nodes.length === 0;
  useEffect(() => {
    if (!sentReady.current && drawn) {
      sentReady.current = true;
      // After two frames: the one that shows the nodes has been painted.
      requestAnimationFrame(() => requestAnimationFrame(() => setTimeout(() => emit({ kind: "ready" }), 50)));
    }
  }, [drawn, emit]);

  // -- selection: sent to Python when it settles (the inspector follows it) --
  const selectedIds = useCallback(() => rf.getNodes().filter((n) => n.selected && n.type !== "groupbox").map((n) => n.id), [rf]);
  const onNodesChange = useCallback((changes: NodeChange[]) => {
    // Frames (box:) are ours, never changed by React Flow; removals go to Python (onBeforeDelete).
    const mine = changes.filter((c) => c.type !== "remove" && (!("id" in c) || !String(c.id).startsWith("box:")));
    if (mine.length) setNodes((ns) => applyNodeChanges(mine, ns));
  }, []);
  // A new selection is sent 60 ms after it last changed; other changes of the nodes (measurements as boxes come
  // into view) do not hold it back.
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
      }, 60),
    };
  }, [nodes, emit]);
  useEffect(() => () => { if (selTimer.current) clearTimeout(selTimer.current.t); }, []);
  const seenSelAck = useRef(-1);
  useEffect(() => {
    // A selection Python asks for counts as sent (only a new one: data is new on every run).
    if (data.sel && data.sel.n !== seenSelAck.current) {
      seenSelAck.current = data.sel.n;
      lastSel.current = [...data.sel.ids].sort().join(",");
    }
  }, [data.sel]);

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

  // -- connecting: refused at once, with Python's reason (rules.ts) --
  const successors = useMemo(() => successorsOf(data.edges), [data.edges]);
  const whyNot = useCallback((c: Connection | Edge) => connectRefusal(c, byId, data.edges, successors)?.text ?? null,
    [byId, data.edges, successors]);
  const isValidConnection = useCallback((c: Connection | Edge) => whyNot(c) === null, [whyNot]);
  const onConnect = useCallback((c: Connection) => {
    emit({ kind: "connect", source: c.source, target: c.target, port: portOf(c.targetHandle) });
  }, [emit]);
  const onConnectEnd: OnConnectEnd = useCallback((_e, st) => {
    if (st.toHandle && !st.isValid && st.fromNode && st.toNode) {
      const c = { source: st.fromNode.id, target: st.toNode.id, sourceHandle: "out", targetHandle: st.toHandle.id ?? "in" } as Connection;
      const fromIsTarget = st.fromHandle?.type === "target";
      const why = whyNot(fromIsTarget ? { ...c, source: st.toNode.id, target: st.fromNode.id, targetHandle: st.fromHandle?.id ?? "in" } : c);
      if (why) say(why);
    }
  }, [whyNot, say]);

  // -- deleting (Delete / Backspace, the menu, the toolbar) --
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
  }, [selectedIds, rf, boxGroup, data.edges, emit]);
  const onBeforeDelete = useCallback(async ({ nodes: ns, edges: es }: { nodes: Node[]; edges: Edge[] }) => {
    deleteSelection(ns.map((n) => n.id), es.map((e) => e.id));
    return false; // Python deletes; the new data redraws
  }, [deleteSelection]);
  // Edges come from Python; only their selection is the canvas's own (a selected one can be deleted).
  const onEdgesChange = useCallback((changes: EdgeChange[]) => {
    const sel = changes.filter((c) => c.type === "select");
    if (!sel.length) return;
    setEdgeSel((prev) => {
      const next = new Set(prev);
      for (const c of sel) if (c.type === "select") (c.selected ? next.add(c.id) : next.delete(c.id));
      return next;
    });
  }, []);

  // -- copy, paste, duplicate --
  const clipOf = useCallback((ids: string[]): Clip | null => {
    const layerIds = new Set<string>();
    for (const id of ids) {
      if (id.startsWith("g:")) boxGroup.get(id)?.nodes.forEach((x) => layerIds.add(x));
      else layerIds.add(id);
    }
    const ns: ClipNode[] = data.nodes.filter((n) => layerIds.has(n.id)).map((n) => ({
      id: n.id, type: n.type, params: n.raw.params, trainable: n.raw.trainable, x: n.x, y: n.y,
    }));
    if (!ns.length) return null;
    const es: ClipEdge[] = data.edges.filter((e) => layerIds.has(e.source) && layerIds.has(e.target))
      .map((e) => ({ source: e.source, target: e.target, port: e.port }));
    return { format: "layercanvas-clip", version: 1, nodes: ns, edges: es };
  }, [data, boxGroup]);
  const copy = useCallback((): Clip | null => {
    const clip = clipOf(selectedIds());
    if (!clip) {
      say("Select layers to copy first.", "info");
      return null;
    }
    localClip = clip;
    try {
      void navigator.clipboard?.writeText(JSON.stringify(clip)).catch(() => undefined);
    } catch {
      /* no clipboard access: the copy stays inside the canvas */
    }
    say(`Copied ${clip.nodes.length} layer${clip.nodes.length === 1 ? "" : "s"}.`, "info");
    return clip;
  }, [clipOf, selectedIds, say]);
  const pasteClip = useCallback((clip: Clip, at?: { x: number; y: number }) => {
    emit({ kind: "paste", nodes: clip.nodes, edges: clip.edges, ...(at ?? {}) });
  }, [emit]);
  const pasteText = useCallback((text: string) => {
    let clip: unknown = null;
    try {
      clip = JSON.parse(text);
    } catch {
      clip = null;
    }
    const c = clip as Clip | null;
    if (!c || typeof c !== "object" || c.format !== "layercanvas-clip" || !Array.isArray(c.nodes) || !Array.isArray(c.edges)) {
      say("The clipboard holds no LayerCanvas layers, so nothing was pasted: select layers and press Ctrl+C first.");
      return;
    }
    pasteClip(c);
  }, [pasteClip, say]);
  const pasteTimer = useRef<number | null>(null);
  const onPaste = useCallback((e: React.ClipboardEvent) => {
    if ((e.target as HTMLElement).closest("input, textarea")) return;
    e.preventDefault();
    if (pasteTimer.current !== null) {
      clearTimeout(pasteTimer.current);
      pasteTimer.current = null;
    }
    const text = e.clipboardData.getData("text/plain");
    if (text.trim()) pasteText(text);
    else if (localClip) pasteClip(localClip);
    else say("Nothing to paste: select layers and press Ctrl+C first.", "info");
  }, [pasteText, pasteClip, say]);
  const onCopyEvent = useCallback((e: React.ClipboardEvent) => {
    if ((e.target as HTMLElement).closest("input, textarea")) return;
    const clip = localClip;
    if (clip) {
      e.clipboardData.setData("text/plain", JSON.stringify(clip));
      e.preventDefault();
    }
  }, []);

  // -- adding --
  const flowAt = useCallback((clientX: number, clientY: number) => rf.screenToFlowPosition({ x: clientX, y: clientY }), [rf]);
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
    if (nodeId && !nodeId.startsWith("box:")) {
      emit({ kind: "add", type, connect: nodeId });
    } else if (edgeEl) {
      const edgeId = edgeEl.getAttribute("data-id") || (edgeEl.getAttribute("data-testid") ?? "").replace(/^rf__edge-/, "");
      emit({ kind: "add", type, edge: edgeId, x: p.x - dataRef.current.box.w / 2, y: p.y - 30 });
    } else {
      emit({ kind: "add", type, x: p.x - dataRef.current.box.w / 2, y: p.y - 30 });
    }
    return true;
  }, [rootNode, flowAt, emit, say]);
  const addAfterSelected = useCallback((type: string) => {
    const sel = selectedIds().filter((id) => !id.startsWith("g:"));
    emit({ kind: "add", type, after: sel.length === 1 ? sel[0] : null });
  }, [selectedIds, emit]);

  const openQuick = useCallback((clientX: number, clientY: number, extra?: { edge?: string; after?: string }) => {
    const box = wrapRef.current?.getBoundingClientRect();
    if (!box) return;
    setMenu(null);
    setQuick({ x: clientX - box.left, y: clientY - box.top, flow: flowAt(clientX, clientY), ...extra });
  }, [flowAt]);
  const quickPick = useCallback((type: string) => {
    if (!quick) return;
    const w = dataRef.current.box.w;
    if (quick.edge) emit({ kind: "add", type, edge: quick.edge, x: quick.flow.x - w / 2, y: quick.flow.y - 30 });
    else if (quick.after) emit({ kind: "add", type, connect: quick.after });
    else emit({ kind: "add", type, x: quick.flow.x - w / 2, y: quick.flow.y - 30 });
    setQuick(null);
    wrapRef.current?.focus({ preventScroll: true });
  }, [quick, emit]);

  const groupSelection = useCallback(() => {
    const ids = selectedIds().filter((id) => !id.startsWith("g:"));
    if (!ids.length) {
      say("Select the layers to group first (Shift-click, or drag a box with Shift held).", "info");
      return;
    }
    emit({ kind: "group", ids });
  }, [selectedIds, emit, say]);

  // -- keys (the canvas has focus) --
  const onKeyDown = useCallback((e: React.KeyboardEvent) => {
    const t = e.target as HTMLElement;
    if (t.closest("input, textarea")) return;
    const mod = e.ctrlKey || e.metaKey;
    const k = e.key.toLowerCase();
    if (dataRef.current.ro && e.key !== "Escape" && !(mod && (k === "c" || k === "a"))) return;
    if (e.key === "/" && !mod) {
      e.preventDefault();
      openQuick(mouse.current.x, mouse.current.y);
    } else if (mod && k === "c") {
      copy();
    } else if (mod && k === "v") {
      // The paste event brings the system clipboard; where none comes, paste what Ctrl+C copied here.
      pasteTimer.current = window.setTimeout(() => {
        pasteTimer.current = null;
        if (localClip) pasteClip(localClip);
        else say("Nothing to paste: select layers and press Ctrl+C first.", "info");
      }, 80);
    } else if (mod && k === "d") {
      e.preventDefault();
      const clip = clipOf(selectedIds());
      if (clip) pasteClip(clip);
    } else if (mod && k === "g") {
      e.preventDefault();
      groupSelection();
    } else if (mod && k === "a") {
      e.preventDefault();
      setNodes((ns) => ns.map((n) => ({ ...n, selected: n.type !== "groupbox" })));
    } else if (e.key === "Escape") {
      setMenu(null);
      setQuick(null);
      setNodes((ns) => ns.map((n) => (n.selected ? { ...n, selected: false } : n)));
    }
  }, [openQuick, copy, pasteClip, clipOf, selectedIds, groupSelection, say]);

  const onPointerDownCapture = useCallback((e: React.PointerEvent) => {
    const t = e.target as HTMLElement;
    if (!t.closest("input, textarea, .lc-menu, .lc-quick")) {
      wrapRef.current?.focus({ preventScroll: true });
      if (!t.closest(".lc-menu")) setMenu(null);
    }
  }, []);

  const onDoubleClick = useCallback((e: React.MouseEvent) => {
    const t = e.target as HTMLElement;
    if (dataRef.current.ro) return;
    if (t.closest(".react-flow__pane") && !t.closest(".react-flow__node")) openQuick(e.clientX, e.clientY);
  }, [openQuick]);

  const contextMenu = useCallback((e: React.MouseEvent | MouseEvent, extra: { node?: string; edge?: string }) => {
    e.preventDefault();
    const box = wrapRef.current?.getBoundingClientRect();
    if (!box || dataRef.current.ro) return;
    setQuick(null);
    setMenu({ x: e.clientX - box.left, y: e.clientY - box.top, flow: flowAt(e.clientX, e.clientY), ...extra });
  }, [flowAt]);

  // Handles keep at least 14 screen pixels whatever the zoom (easy to hit when zoomed out).
  const zoom = useStore((st) => st.transform[2]);
  const handleSize = `${Math.round(Math.max(14, 14 / Math.max(zoom, 0.1)))}px`;
  const nSel = nodes.filter((n) => n.selected).length;
  const allNodes = useMemo(() => [...boxes, ...nodes], [boxes, nodes]);
  const big = nodes.length > data.limits.drawAll;

  return (
    <div className="lc-canvas" ref={wrapRef} tabIndex={0} onKeyDown={onKeyDown} onPaste={onPaste} onCopy={onCopyEvent}
      onPointerDownCapture={onPointerDownCapture} onDoubleClick={onDoubleClick}
      onMouseMove={(e) => { mouse.current = { x: e.clientX, y: e.clientY }; }}
>
      {!data.ro && <Palette items={data.palette} onAdd={addAfterSelected} onDrag={setGhost}
        onDrop={(type, x, y) => { if (!dropAt(type, x, y)) say("Drop the layer on the canvas.", "info"); }} />}
      <div className="lc-flow" ref={flowRef} style={{ ["--lc-handle" as string]: handleSize, ["--lc-node-w" as string]: `${data.box.w}px` }}>
        <div className="lc-toolbar">
          {!data.ro && <button onClick={() => emit({ kind: "layout" })} title="Arrange the layers top-down">Auto-layout</button>}
          <button onClick={fit} title="Show the whole graph (at 93% to 100%: a bigger one starts at its top and scrolls)">Fit view</button>
          {!data.ro && <button onClick={groupSelection} disabled={nSel === 0} title="Group the selected layers into a block (Ctrl+G)">Group</button>}
          {!data.ro && <button onClick={() => deleteSelection()} disabled={nSel === 0} title="Delete the selection (Delete)">Delete selected</button>}
          <span className="lc-hint">
            {data.building ? "Building… · " : ""}{nSel > 1 ? `${nSel} selected · ` : ""}
            {data.ro ? "Read-only: someone else's project" : "Double-click or / to add · Shift-drag to select"}
          </span>
        </div>
        {data.big ? (
          <div className="lc-big">{data.big}</div>
        ) : (
          <ReactFlow
            nodes={allNodes}
            edges={edges}
            nodeTypes={nodeTypes}
            edgeTypes={edgeTypes}
            onNodesChange={onNodesChange}
            onEdgesChange={onEdgesChange}
            onConnect={onConnect}
            onConnectEnd={onConnectEnd}
            isValidConnection={isValidConnection}
            onBeforeDelete={onBeforeDelete}
            onNodeDragStop={onNodeDragStop}
            onNodeContextMenu={(e, n) => contextMenu(e, { node: n.id })}
            onEdgeContextMenu={(e, ed) => contextMenu(e, { edge: ed.id })}
            onPaneContextMenu={(e) => contextMenu(e, {})}
            deleteKeyCode={data.ro ? null : ["Delete", "Backspace"]}
            nodesDraggable={!data.ro}
            nodesConnectable={!data.ro}
            multiSelectionKeyCode={["Shift", "Meta", "Control"]}
            selectionKeyCode="Shift"
            selectionMode={SelectionMode.Partial}
            zoomOnDoubleClick={false}
            panOnScroll
            zoomActivationKeyCode={["Control", "Meta"]}
            minZoom={0.1}
            maxZoom={2}
            connectionRadius={36}
            onlyRenderVisibleElements={big}
            elevateEdgesOnSelect
            proOptions={{ hideAttribution: true }}
            defaultViewport={kept.viewport ?? { x: 40, y: 40, zoom: 1 }}
          >
            <Background gap={24} size={1} />
            <Controls showInteractive={false} showFitView={false} position="bottom-left" />
            {nodes.length > 20 && (
              <MiniMap pannable zoomable position="bottom-right" className="lc-minimap" nodeStrokeWidth={3}
                nodeColor={(n) => (n.type === "lcgroup" ? "#334e68" : n.type === "groupbox" ? "transparent" : "#7b9fd6")}
                maskColor="rgba(226, 232, 240, 0.55)" />
            )}
          </ReactFlow>
        )}
      </div>
      {ghost && <div className="lc-ghost" style={{ left: ghost.x, top: ghost.y }}>{ghost.type}</div>}
      {quick && (
        <QuickAddBox at={quick} items={data.palette} onPick={quickPick} onClose={() => setQuick(null)}
          onMiss={(text) => say(`No layer is called “${text}”: try Dense, Conv2D, LSTM, Concatenate…`)} />
      )}
      {menu && (
        <div className="lc-menu" style={{ left: menu.x, top: menu.y }} role="menu">
          {menu.node && !menu.node.startsWith("g:") && (
            <>
              <button role="menuitem" onClick={() => { setMenu(null); openQuickAfter(menu.node!); }}>Add a layer after it…</button>
              <button role="menuitem" onClick={() => { setMenu(null); const c = clipOf(ensureSel(menu.node!)); if (c) pasteClip(c); }}>Duplicate</button>
              <button role="menuitem" onClick={() => { setMenu(null); ensureSel(menu.node!); copy(); }}>Copy</button>
              <button role="menuitem" onClick={() => { setMenu(null); const ids = ensureSel(menu.node!); emit({ kind: "group", ids: ids.filter((i) => !i.startsWith("g:")) }); }}>Group</button>
              {byId.get(menu.node)?.group && (
                <button role="menuitem" onClick={() => { setMenu(null); toggleGroup(byId.get(menu.node!)!.group!, true); }}>Collapse its group</button>
              )}
              <button role="menuitem" className="danger" onClick={() => { setMenu(null); deleteSelection(ensureSel(menu.node!), []); }}>Delete</button>
            </>
          )}
          {menu.node && menu.node.startsWith("g:") && (
            <>
              <button role="menuitem" onClick={() => { setMenu(null); toggleGroup(menu.node!.slice(2), false); }}>Expand</button>
              <button role="menuitem" onClick={() => { setMenu(null); ungroup(menu.node!.slice(2)); }}>Ungroup</button>
              <button role="menuitem" className="danger" onClick={() => { setMenu(null); deleteSelection([menu.node!], []); }}>Delete its layers</button>
            </>
          )}
          {menu.edge && (
            <>
              <button role="menuitem" onClick={() => { const m = menu; setMenu(null); openQuickAt(m, { edge: m.edge }); }}>Insert a layer here…</button>
              <button role="menuitem" className="danger" onClick={() => { setMenu(null); emit({ kind: "delete", nodes: [], edges: [menu.edge!] }); }}>Delete connection</button>
            </>
          )}
          {!menu.node && !menu.edge && (
            <>
              <button role="menuitem" onClick={() => { const m = menu; setMenu(null); openQuickAt(m, {}); }}>Add a layer here…</button>
              <button role="menuitem" disabled={!localClip} onClick={() => { setMenu(null); if (localClip) pasteClip(localClip, { x: menu.flow.x, y: menu.flow.y }); }}>Paste</button>
              <button role="menuitem" onClick={() => { setMenu(null); emit({ kind: "layout" }); }}>Auto-layout</button>
              <button role="menuitem" onClick={() => { setMenu(null); fit(); }}>Fit view</button>
            </>
          )}
        </div>
      )}
      {toast && <div className={`lc-toast ${toast.kind}`} role="status">{toast.text}</div>}
    </div>
  );

  function ensureSel(id: string): string[] {
    const sel = selectedIds();
    if (sel.includes(id)) return sel;
    setNodes((ns) => ns.map((n) => ({ ...n, selected: n.id === id })));
    return [id];
  }
  function openQuickAt(m: NonNullable<Menu>, extra: { edge?: string }) {
    const box = wrapRef.current?.getBoundingClientRect();
    if (!box) return;
    setQuick({ x: m.x, y: m.y, flow: m.flow, ...extra });
  }
  function openQuickAfter(id: string) {
    const n = rf.getNode(id);
    const box = wrapRef.current?.getBoundingClientRect();
    if (!n || !box) return;
    const vp = rf.getViewport();
    const h = n.measured?.height ?? data.box.h;
    setQuick({ x: n.position.x * vp.zoom + vp.x + (flowRef.current?.offsetLeft ?? 0), y: (n.position.y + h + 10) * vp.zoom + vp.y, flow: n.position, after: id });
  }
}

function QuickAddBox({ at, items, onPick, onClose, onMiss }: {
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
