// What Python sends (components/canvas/__init__.py: canvas_data) and what the canvas sends back (events).

export type Issue = { sev: "error" | "warning"; msg: string };

export type NodeIn = {
  id: string;
  type: string;
  cat: string;
  keyp: string; // key params, e.g. "units 64 · relu"
  shape: string; // output shape, "" while building or on error
  params: number | null; // parameter count (null: unknown)
  macs?: number | null; // multiply-accumulates for one sample (null: unknown)
  heavy?: number | null; // one of the heaviest layers: its share of the model's MACs, in percent
  frozen: boolean;
  input: boolean;
  issues: Issue[];
  ports: string[]; // labelled input handles; [] = one plain input handle (none for Input)
  nin: number; // inputs connected now
  maxin: number | null; // most inputs it takes (null: any)
  raw: { params: Record<string, unknown>; trainable: boolean };
  x: number;
  y: number;
  group: string | null;
  searched?: Record<string, string> | null; // param -> the values a search tries ("8, 16 or 32")
};

export type EdgeIn = { id: string; source: string; target: string; port: number | null; label: string };

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

export type PaletteItem = { type: string; cat: string; help: string };

export type Data = {
  v: number; // graph version: every event carries the version it was made on
  ack: number; // the last event sequence number Python applied
  nodes: NodeIn[];
  edges: EdgeIn[];
  groups: GroupIn[];
  palette: PaletteItem[];
  sel: { n: number; ids: string[] }; // a selection Python asks for (after an add), applied when n changes
  fit: number; // fit the view when this changes
  toast: { n: number; kind: "error" | "warning" | "info"; text: string } | null;
  building: boolean;
  big: string | null; // a message instead of drawing a huge graph
  ro?: boolean; // read-only: someone else's project, opened by its link
};

export type CanvasEvent =
  | { kind: "add"; type: string; x?: number; y?: number; after?: string | null; edge?: string | null; connect?: string | null }
  | { kind: "connect"; source: string; target: string; port: number | null }
  | { kind: "delete"; nodes: string[]; edges: string[] }
  | { kind: "move"; positions: Record<string, [number, number]> }
  | { kind: "select"; ids: string[] }
  | { kind: "paste"; nodes: ClipNode[]; edges: ClipEdge[]; x?: number; y?: number }
  | { kind: "group"; ids: string[] }
  | { kind: "ungroup"; group: string }
  | { kind: "collapse"; group: string; collapsed: boolean }
  | { kind: "rename_group"; group: string; name: string }
  | { kind: "layout" }
  | { kind: "ready" };

export type ClipNode = { id: string; type: string; params: Record<string, unknown>; trainable: boolean; x: number; y: number };
export type ClipEdge = { source: string; target: string; port: number | null };
export type Clip = { format: "layercanvas-clip"; version: 1; nodes: ClipNode[]; edges: ClipEdge[] };

export type Sent = CanvasEvent & { seq: number; v: number };

export type Args = {
  data: Data;
  parentElement: HTMLElement | ShadowRoot;
  setStateValue: (name: string, value: unknown) => void;
  setTriggerValue: (name: string, value: unknown) => void;
};
