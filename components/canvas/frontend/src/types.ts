// Generated from components/canvas/schema.json by `python -m components.canvas.typegen`: do not edit.
// What Python sends (components/canvas/__init__.py: canvas_data) and what the canvas sends back (events).

/** What Python sends on every run. */
export type Data = {
  v: number; // graph version: every event carries the version it was made on
  ack: number; // the last event sequence number Python applied
  nodes: NodeIn[];
  edges: EdgeIn[];
  groups: GroupIn[];
  palette: PaletteItem[];
  sel: { n: number; ids: string[] }; // a selection Python asks for (after an add), applied when n changes
  fit: number; // fit the view when this changes
  copy: { n: number; ids: string[] }; // layers to copy to the clipboard (the inspector's Copy button), when n changes
  reveal: { n: number; ids: string[] }; // layers Python added (an add, a paste, a fix): when n changes, the canvas pans just enough to show them whole, if they are not
  toast: Toast | null;
  building: boolean; // no build result yet: shapes and counts are missing
  big: string | null; // a message instead of drawing a huge graph
  ro: boolean; // read-only: someone else's project, opened by its link
  wait: boolean; // Python waits for the canvas's first paint (the session's first): the canvas then sends a ready event, and otherwise nothing of its own
  box: Box;
  limits: Limits;
  dir: "TB" | "LR"; // how the graph is laid out: top-down (handles on top and bottom) or left to right (handles on the sides)
  present: boolean; // presenter mode (a projector): high contrast, and a fit shows the text at 100% to 130% (larger), never smaller
  head: Head;
  sync: number; // when this changes, the canvas sends a sync event once it has painted (the page then draws what follows the canvas: the column beside it)
};

/** What the canvas shows above the graph: the model's totals, and whether Undo and Redo can be used. */
export type Head = {
  totals: Metric[];
  undo: boolean; // there is a change to undo
  redo: boolean; // there is an undone change to redo
};

/** One total (components/summary_panel.py: totals): Total params, Trainable, Non-trainable, Model size, MACs, Layers, Errors, Warnings. */
export type Metric = {
  label: string;
  value: string;
  help: string; // a tooltip; empty: none
};

/** A layer's box, as Python lays the graph out (builder/model/layout.py): the size of a box not measured yet. */
export type Box = {
  w: number; // width in px (every box has it)
  h: number; // height in px of a box not measured yet
};

/** Python's limits the canvas keeps to. */
export type Limits = {
  events: number; // most events in the queue sent to Python (it reads no more)
  drawAll: number; // up to this many boxes all are drawn; above it only those in view
};

export type Issue = {
  sev: "error" | "warning";
  msg: string;
};

/** A layer. Its maxin, nin and ports are all the canvas knows for its connect rules (rules.ts): Graph.connect's, from the catalog. */
export type NodeIn = {
  id: string;
  type: string;
  cat: string;
  keyp: string; // key params, e.g. "units 64 · relu"
  shape: string; // output shape, "" while building or on error
  params: number | null; // parameter count (null: unknown)
  macs: number | null; // multiply-accumulates for one sample (null: unknown)
  heavy: number | null; // one of the heaviest layers: its share of the model's MACs, in percent
  frozen: boolean;
  input: boolean; // a model input: no input handle
  issues: Issue[];
  ports: string[]; // labelled input handles; [] = one plain input handle (none for Input)
  nin: number; // inputs connected now
  maxin: number | null; // most inputs it takes (null: any)
  raw: { params: Record<string, unknown>; trainable: boolean };
  x: number;
  y: number;
  group: string | null;
  searched: Record<string, string> | null; // param -> the values a search tries ("8, 16 or 32")
};

export type EdgeIn = {
  id: string;
  source: string;
  target: string;
  port: number | null;
  label: string;
};

export type GroupIn = {
  id: string;
  name: string;
  nodes: string[];
  collapsed: boolean;
  inShape: string;
  outShape: string;
  params: number | null;
  errors: number;
};

export type PaletteItem = {
  type: string;
  cat: string;
  help: string;
};

export type Toast = {
  n: number;
  kind: "error" | "warning" | "info";
  text: string;
};

/** The part of the canvas the user sees, in flow coordinates [x0, y0, x1, y1], clear of the toolbar, the zoom buttons and the minimap: a layer added on its own lands inside it. */
export type View = [number, number, number, number];

export type AddEvent = {
  kind: "add";
  type: string;
  x?: number;
  y?: number;
  after?: string | null;
  edge?: string | null;
  connect?: string | null;
  view?: View;
};

export type ConnectEvent = {
  kind: "connect";
  source: string;
  target: string;
  port: number | null;
};

export type DeleteEvent = {
  kind: "delete";
  nodes: string[];
  edges: string[];
};

export type MoveEvent = {
  kind: "move";
  positions: Record<string, [number, number]>;
};

export type SelectEvent = {
  kind: "select";
  ids: string[];
};

export type PasteEvent = {
  kind: "paste";
  nodes: ClipNode[];
  edges: ClipEdge[];
  x?: number;
  y?: number;
  view?: View;
};

export type GroupEvent = {
  kind: "group";
  ids: string[];
};

export type UngroupEvent = {
  kind: "ungroup";
  group: string;
};

export type CollapseEvent = {
  kind: "collapse";
  group: string;
  collapsed: boolean;
};

export type RenameGroupEvent = {
  kind: "rename_group";
  group: string;
  name: string;
};

export type LayoutEvent = {
  kind: "layout";
  dir?: "TB" | "LR"; // lay the graph out in this direction (the toolbar's toggle); absent: its own
};

/** the canvas has painted its nodes (the page waits for it before loading TensorFlow) */
export type ReadyEvent = {
  kind: "ready";
};

/** the canvas has painted the data whose sync number changed (Data.sync) */
export type SyncEvent = {
  kind: "sync";
};

/** undo the last change (the Undo button above the graph, or Ctrl+Z) */
export type UndoEvent = {
  kind: "undo";
};

/** redo the change last undone (the Redo button, Ctrl+Shift+Z or Ctrl+Y) */
export type RedoEvent = {
  kind: "redo";
};

/** turn presenter mode on or off (the Present button above the graph) */
export type PresentEvent = {
  kind: "present";
};

/** A gesture, as the canvas makes it. Each kind's object allows no other fields where it is sent (Sent). */
export type CanvasEvent =
  | AddEvent
  | ConnectEvent
  | DeleteEvent
  | MoveEvent
  | SelectEvent
  | PasteEvent
  | GroupEvent
  | UngroupEvent
  | CollapseEvent
  | RenameGroupEvent
  | LayoutEvent
  | ReadyEvent
  | SyncEvent
  | UndoEvent
  | RedoEvent
  | PresentEvent;

/** An event in the queue the canvas keeps in its state value "events" (at most Limits.events of them), stamped with its sequence number (only grows: Python applies each event once, seq > the last it applied) and the graph version it was made on. */
export type Sent = CanvasEvent & { seq: number; v: number };

/** A copied layer (the clipboard and the paste event). */
export type ClipNode = {
  id: string;
  type: string;
  params: Record<string, unknown>;
  trainable: boolean;
  x: number;
  y: number;
};

export type ClipEdge = {
  source: string;
  target: string;
  port: number | null;
};
