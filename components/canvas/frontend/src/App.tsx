// The canvas: palette, React Flow graph, quick-add box, context menu, toolbar and messages.
// Python owns the graph. Every gesture becomes an event (see types.ts) that Python applies and answers with
// new data; what the canvas knows it can refuse at once (a cycle, a wrong port), it refuses with a message.
// Each concern has its module: graph.ts (the graph from Python), groups.ts, view.ts (fit, the kept view),
// selection.ts (in step with Python), edit.ts (move, delete), connect.ts and rules.ts, clipboard.ts, adding.ts
// (the palette), QuickAdd.tsx, Menu.tsx, gestures.ts (keys and pointer); this file puts them together.
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import {
  Background,
  Controls,
  MiniMap,
  ReactFlow,
  ReactFlowProvider,
  SelectionMode,
  useReactFlow,
  type Node,
} from "@xyflow/react";
import { useAdding } from "./adding";
import { useClipboard } from "./clipboard";
import { useConnect } from "./connect";
import { useEdits } from "./edit";
import { useGestures } from "./gestures";
import { useEdges, usePythonNodes } from "./graph";
import { groupOf, useFrames, useGroupActions, useGroupSelection } from "./groups";
import { ContextMenu } from "./Menu";
import { edgeTypes, nodeTypes } from "./nodes";
import { Palette } from "./Palette";
import { Head } from "./Head";
import { ToolButton } from "./Toolbar";
import { QuickAddBox, useQuickAdd } from "./QuickAdd";
import { useSelection } from "./selection";
import { useToast } from "./toast";
import type { CanvasEvent, Data } from "./types";
import type { Menu, QuickAdd, XY } from "./ui";
import { hasMinimap, useHandleSize, useReadySignal, useSyncSignal, useView, visibleView, type Kept } from "./view";

type Send = (ev: CanvasEvent, v: number) => void;
// Props that React Flow compares by identity: made once, not at each render (a new array re-subscribes its key
// listeners; a new object re-renders what reads it).
const DELETE_KEYS = ["Delete", "Backspace"];
const MULTI_KEYS = ["Shift", "Meta", "Control"];
const ZOOM_KEYS = ["Control", "Meta"];
const PRO = { hideAttribution: true };
type Props = { data: Data; send: Send; rootNode: HTMLElement | ShadowRoot; kept: Kept };

export function App(props: Props) {
  return (
    <ReactFlowProvider>
      <Canvas {...props} />
    </ReactFlowProvider>
  );
}

function Canvas({ data, send, rootNode, kept }: Props) {
  const wrapRef = useRef<HTMLDivElement>(null);
  const flowRef = useRef<HTMLDivElement>(null);
  const [nodes, setNodes] = useState<Node[]>([]);
  const [menu, setMenu] = useState<Menu>(null);
  const [quick, setQuick] = useState<QuickAdd>(null);
  const [ghost, setGhost] = useState<{ type: string; x: number; y: number } | null>(null);
  const mouse = useRef<XY>({ x: 0, y: 0 });
  const dataRef = useRef(data);
  dataRef.current = data;
  const rf = useReactFlow();
  const emit = useCallback((ev: CanvasEvent) => {
    // A read-only project sends selections only: nothing else would be applied.
    if (dataRef.current.ro && !["select", "ready", "sync", "present"].includes(ev.kind)) return;
    if (ev.kind === "add" || ev.kind === "paste") {
      // Where the user looks: a layer added on its own lands there.
      const view = visibleView(flowRef.current, rf.getViewport(), hasMinimap(dataRef.current.nodes.length));
      if (view) ev = { ...ev, view };
    }
    send(ev, dataRef.current.v);
  }, [send, rf]);
  const { toast, say } = useToast(data.toast);

  const byId = useMemo(() => new Map(data.nodes.map((n) => [n.id, n])), [data.nodes]);
  const groups = useMemo(() => groupOf(data), [data]);
  // A collapsed group's box is the node `g:<group id>`.
  const boxGroup = useMemo(() => new Map(data.groups.map((g) => [`g:${g.id}`, g])), [data.groups]);
  const groupActions = useGroupActions(emit);
  usePythonNodes(data, groups, groupActions, setNodes);
  const frames = useFrames(nodes, data.groups, data.box, groupActions);
  const { fit, onMoveStart, onMoveEnd, startView } = useView(data, flowRef, kept);
  useReadySignal(nodes, data, emit);
  useSyncSignal(data.sync, emit);
  const { selectedIds, onNodesChange, ensureSel, selectAll, clearSelection, edgeSel, onEdgesChange } =
    useSelection(nodes, setNodes, data.sel, emit);
  const edges = useEdges(data, byId, groups, edgeSel);
  const { onNodeDragStop, deleteSelection, onBeforeDelete } = useEdits(data, boxGroup, selectedIds, setNodes, emit);
  const { isValidConnection, onConnect, onConnectEnd } = useConnect(byId, data.edges, emit, say);
  const { clipOf, copy, pasteClip, onPaste, pasteSoon, onCopy } = useClipboard(data, boxGroup, selectedIds, emit, say);
  const { flowAt, dropAt, addAfterSelected } = useAdding(rootNode, flowRef, dataRef, selectedIds, emit, say);
  const { openQuick, openQuickAt, openQuickAfter, quickPick } =
    useQuickAdd(quick, setQuick, setMenu, wrapRef, flowRef, dataRef, flowAt, emit, selectedIds);
  const groupSelection = useGroupSelection(selectedIds, emit, say);
  // The inspector's Copy: once per request (a canvas drawn anew takes the last one as done).
  useEffect(() => {
    if (kept.copy !== null && kept.copy !== data.copy.n && data.copy.ids.length) copy(data.copy.ids);
    kept.copy = data.copy.n;
  }, [data.copy, kept, copy]);
  const { onKeyDown, onPointerDownCapture, onDoubleClick, contextMenu } = useGestures(dataRef, wrapRef, mouse,
    setMenu, setQuick, flowAt, { openQuick, copy, pasteSoon, clipOf, pasteClip, selectedIds, groupSelection, selectAll,
      clearSelection });

  // Stable handlers: React Flow hands them to every node and edge, and a new function each render would draw every
  // node and edge again at each edit (their wrappers are memoized on their props).
  const onNodeContextMenu = useCallback((e: React.MouseEvent, n: Node) => contextMenu(e, { node: n.id }), [contextMenu]);
  const onEdgeContextMenu = useCallback((e: React.MouseEvent, ed: { id: string }) => contextMenu(e, { edge: ed.id }),
    [contextMenu]);
  const onPaneContextMenu = useCallback((e: React.MouseEvent | MouseEvent) => contextMenu(e, {}), [contextMenu]);
  const handleSize = useHandleSize();
  const nSel = nodes.filter((n) => n.selected).length;
  const allNodes = useMemo(() => [...frames, ...nodes], [frames, nodes]);
  const big = nodes.length > data.limits.drawAll;

  return (
    <div className="lc-shell">
    <Head head={data.head} ro={data.ro} present={data.present} emit={emit} />
    <div className={data.present ? "lc-canvas lc-present" : "lc-canvas"} ref={wrapRef} tabIndex={0} onKeyDown={onKeyDown} onPaste={onPaste} onCopy={onCopy}
      onPointerDownCapture={onPointerDownCapture} onDoubleClick={onDoubleClick}
      onMouseMove={(e) => { mouse.current = { x: e.clientX, y: e.clientY }; }}
>
      {!data.ro && <Palette items={data.palette} onAdd={addAfterSelected} onDrag={setGhost}
        onDrop={(type, x, y) => { if (!dropAt(type, x, y)) say("Drop the layer on the canvas.", "info"); }} />}
      <div className="lc-flow" ref={flowRef} style={{ ["--lc-handle" as string]: handleSize, ["--lc-node-w" as string]: `${data.box.w}px` }}>
        <div className="lc-toolbar">
          {!data.ro && <ToolButton icon="layout" label="Auto-layout" onClick={() => emit({ kind: "layout" })}
            title={data.dir === "LR" ? "Arrange the layers left to right" : "Arrange the layers top-down"} />}
          {!data.ro && <ToolButton icon={data.dir === "LR" ? "down" : "right"} label={data.dir === "LR" ? "Top-down" : "Left to right"}
            onClick={() => emit({ kind: "layout", dir: data.dir === "LR" ? "TB" : "LR" })}
            title={data.dir === "LR" ? "Lay the graph out top-down" : "Lay the graph out left to right, in rows (a long chain fits the window)"} />}
          <ToolButton icon="fit" label="Fit view" onClick={fit}
            title="Show the whole graph (at 85% to 100%: a bigger one starts at its top and scrolls)" />
          {!data.ro && <ToolButton icon="group" label="Group" onClick={groupSelection} disabled={nSel === 0}
            title="Group the selected layers into a block (Ctrl+G)" />}
          {!data.ro && <ToolButton icon="delete" label="Delete selected" onClick={() => deleteSelection()} disabled={nSel === 0}
            title="Delete the selection (Delete)" />}
          <span className="lc-hint" title="Double-click the canvas or press / to add a layer by name; Shift-drag to select several">
            {data.building ? "Building… · " : ""}{nSel > 1 ? `${nSel} selected · ` : ""}
            {data.ro ? "Read-only: someone else's project" : "Double-click or / to add"}
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
            onMoveStart={onMoveStart}
            onMoveEnd={onMoveEnd}
            onNodeContextMenu={onNodeContextMenu}
            onEdgeContextMenu={onEdgeContextMenu}
            onPaneContextMenu={onPaneContextMenu}
            deleteKeyCode={data.ro ? null : DELETE_KEYS}
            nodesDraggable={!data.ro}
            nodesConnectable={!data.ro}
            multiSelectionKeyCode={MULTI_KEYS}
            selectionKeyCode="Shift"
            selectionMode={SelectionMode.Partial}
            zoomOnDoubleClick={false}
            panOnScroll
            zoomActivationKeyCode={ZOOM_KEYS}
            minZoom={0.1}
            maxZoom={2}
            connectionRadius={36}
            autoPanOnConnect={false}
            onlyRenderVisibleElements={big}
            elevateEdgesOnSelect
            proOptions={PRO}
            defaultViewport={startView}
          >
            <Background gap={24} size={1} />
            <Controls showInteractive={false} showFitView={false} position="bottom-left" />
            {hasMinimap(nodes.length) && (
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
        <ContextMenu menu={menu} byId={byId} close={() => setMenu(null)} act={{ emit, groups: groupActions, ensureSel,
          clipOf, pasteClip, copy, deleteSelection, openQuickAt, openQuickAfter, fit }} />
      )}
      {toast && <div className={`lc-toast ${toast.kind}`} role="status">{toast.text}</div>}
    </div>
    </div>
  );
}
