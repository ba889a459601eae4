// The boxes drawn on the canvas: a layer, a collapsed group, the frame of an expanded group.
// Everything from Python is shown as text (React escapes it): names and messages are never markup.
import { memo, useState } from "react";
import { BaseEdge, Handle, Position, getSmoothStepPath, type EdgeProps, type NodeProps } from "@xyflow/react";
import type { GroupIn, NodeIn } from "./types";

export function fmtCount(n: number | null | undefined): string {
  return n === null || n === undefined ? "?" : n.toLocaleString("en-US");
}

export function compact(n: number): string {
  for (const [size, unit] of [[1e12, "T"], [1e9, "G"], [1e6, "M"], [1e3, "k"]] as const) {
    if (Math.abs(n) >= size) return `${Number((n / size).toPrecision(3))}${unit}`;
  }
  return n.toLocaleString("en-US");
}

/** `lr`: the graph is laid out left to right: inputs come in on the left, the output leaves on the right. */
export type LayerData = { n: NodeIn; building: boolean; key?: string; lr?: boolean };

function issueText(n: NodeIn): string {
  return n.issues.map((i) => (i.sev === "error" ? "Error: " : "Warning: ") + i.msg).join("\n");
}

export const LayerNode = memo(function LayerNode({ data, selected }: NodeProps) {
  const { n, building, lr } = data as unknown as LayerData;
  const inSide = lr ? Position.Left : Position.Top, outSide = lr ? Position.Right : Position.Bottom;
  const error = n.issues.find((i) => i.sev === "error");
  const worst = error ?? n.issues[0];
  const cls = [
    "lc-node",
    `cat-${n.cat}`,
    n.frozen ? "frozen" : "",
    worst ? `has-${worst.sev}` : "",
    selected ? "selected" : "",
  ].join(" ");
  const ports = n.ports;
  // Left to right, the port labels stand inside the box's left edge: the text moves over to make room for them.
  const portRoom = lr && ports.length ? 14 + 7 * Math.max(...ports.map((p) => p.length)) : 0;
  return (
    <div className={cls + (lr ? " lr" : "")} data-node={n.id} style={portRoom ? { paddingLeft: portRoom } : undefined}>
      {!n.input && ports.length === 0 && <Handle type="target" position={inSide} id="in" className="lc-in" />}
      {ports.map((label, i) => {
        const at = `${((i + 1) / (ports.length + 1)) * 100}%`;
        const place = lr ? { top: at } : { left: at };
        return (
          <span key={label + i}>
            <Handle type="target" position={inSide} id={`in-${i}`} className="lc-in lc-port" style={place}
              title={`input ${label}`} data-port={label} />
            <span className="lc-port-label" style={place}>{label}</span>
          </span>
        );
      })}
      <div className={"lc-head" + (ports.length && !lr ? " with-ports" : "")}>
        {/* A long type (GlobalAveragePooling2D) is shown whole: the id gives way, then goes to the next line. */}
        <span className="lc-type" title={n.type}>{n.type}</span>
        <span className="lc-id" title={n.id}>{n.id}</span>
        {worst && (
          <span className={`lc-badge ${worst.sev}`} title={issueText(n)} aria-label={issueText(n)}>
            {worst.sev === "error" ? "!" : "⚠"}
          </span>
        )}
      </div>
      <div className="lc-keyp">
        <span className="lc-keyp-text">{n.keyp}</span>
        {n.macs ? (
          <span className={"lc-macs" + (n.heavy ? " heavy" : "")}
            title={`${fmtCount(n.macs)} multiply-accumulates for one sample` + (n.heavy ? ` (${n.heavy}% of the model: one of its heaviest layers)` : "")}>
            {compact(n.macs)} MACs{n.heavy ? ` · ${n.heavy}%` : ""}
          </span>
        ) : null}
      </div>
      <div className="lc-meta" title={`output ${n.shape || "unknown"} · ${fmtCount(n.params)} parameters`}>
        <span className="lc-shape">{n.shape || (building ? "building…" : "no shape")}</span>
        <span className="lc-count">{fmtCount(n.params)} params</span>
      </div>
      {(n.frozen || n.searched) && (
        <div className="lc-tags">
          {n.frozen && <span className="lc-tag">frozen</span>}
          {n.searched && (
            <span className="lc-tag search"
              title={"Searched (Train page, Search): " + Object.entries(n.searched).map(([k, v]) => `${k}: ${v}`).join("; ")}>
              search: {Object.keys(n.searched).join(", ")}
            </span>
          )}
        </div>
      )}
      {worst && <div className={`lc-msg ${worst.sev}`} title={issueText(n)}>{worst.msg}</div>}
      <Handle type="source" position={outSide} id="out" className="lc-out" />
    </div>
  );
});

export type GroupData = {
  g: GroupIn;
  lr?: boolean;
  onToggle: (id: string, collapsed: boolean) => void;
  onUngroup: (id: string) => void;
  onRename: (id: string, name: string) => void;
};

/** A group's name; double-click to rename it (Enter keeps, Escape cancels). */
function GroupName({ g, onRename, className }: { g: GroupIn; onRename: GroupData["onRename"]; className: string }) {
  const [editing, setEditing] = useState(false);
  const [text, setText] = useState(g.name);
  if (!editing) {
    return (
      <span className={className} title={`${g.name}\nDouble-click to rename`} onDoubleClick={(e) => { e.stopPropagation(); setText(g.name); setEditing(true); }}>
        {g.name}
      </span>
    );
  }
  const done = (keep: boolean) => {
    setEditing(false);
    if (keep && text.trim() && text !== g.name) onRename(g.id, text.trim());
  };
  return (
    <input className="lc-rename nodrag" value={text} maxLength={200} autoFocus aria-label="Group name"
      onChange={(e) => setText(e.target.value)} onBlur={() => done(true)} onDoubleClick={(e) => e.stopPropagation()}
      onKeyDown={(e) => {
        e.stopPropagation();
        if (e.key === "Enter") done(true);
        if (e.key === "Escape") done(false);
      }} />
  );
}

export const GroupNode = memo(function GroupNode({ data, selected }: NodeProps) {
  const { g, onToggle, onRename, lr } = data as unknown as GroupData;
  const shapes = `${g.inShape || "?"} → ${g.outShape || "?"}`;
  return (
    <div className={"lc-node lc-group-node" + (selected ? " selected" : "") + (g.errors ? " has-error" : "")} data-group={g.id}>
      <Handle type="target" position={lr ? Position.Left : Position.Top} id="in" className="lc-in" />
      {/* The name has the whole width, on as many lines as it needs ("MobileNetV2 base (frozen, ImageNet weights)"). */}
      <div className="lc-head">
        <GroupName g={g} onRename={onRename} className="lc-type" />
        {g.errors > 0 && <span className="lc-badge error" title={`${g.errors} layer(s) with errors inside`}>!</span>}
      </div>
      <div className="lc-keyp">
        <button className="lc-mini nodrag" title="Expand the group" onClick={() => onToggle(g.id, false)}>▸</button>
        <span className="lc-keyp-text">{g.nodes.length} layers · {fmtCount(g.params)} params</span>
      </div>
      <div className="lc-meta" title={`input ${g.inShape || "unknown"} → output ${g.outShape || "unknown"}`}>
        <span className="lc-shape">{shapes}</span>
      </div>
      <Handle type="source" position={lr ? Position.Right : Position.Bottom} id="out" className="lc-out" />
    </div>
  );
});

export const GroupBox = memo(function GroupBox({ data }: NodeProps) {
  const { g, onToggle, onUngroup, onRename } = data as unknown as GroupData;
  return (
    <div className="lc-group-box" data-group={g.id}>
      <div className="lc-group-head">
        <button className="lc-mini nodrag" title="Collapse the group into one box" onClick={() => onToggle(g.id, true)}>▾</button>
        <GroupName g={g} onRename={onRename} className="lc-group-name" />
        <span className="lc-group-info">{g.nodes.length} layers · {fmtCount(g.params)} params</span>
        <button className="lc-mini nodrag" title="Ungroup (the layers stay)" onClick={() => onUngroup(g.id)}>✕</button>
      </div>
    </div>
  );
});

export const nodeTypes = { layer: LayerNode, lcgroup: GroupNode, groupbox: GroupBox };

// An edge's label is its source's output shape: drawn just below the source, where the edge leaves it, rather than
// half-way. Edges into one layer (Concatenate, Add) come from different layers, so their labels no longer land on
// one another near the target ("(Nor (Nor"); edges out of one layer carry the same label, drawn once over the other.
export const EDGE_LABEL_DY = 13;

/** The input port an edge enters ("in-2" -> 2), or null for a layer's one input. */
function portOf(handle: string | null | undefined): number | null {
  const m = /^in-(\d+)$/.exec(handle ?? "");
  return m ? Number(m[1]) : null;
}

/** Where an edge into port `port` of `ports` turns across, between `from` (its source) and `to` (its target) along
 * the flow, and the straight run it keeps out of its source and into its target (smoothstep's offset). Half-way, kept
 * `room` short of the target (for the port's label), each port 7 px earlier than the one before. Where the gap is too
 * short for that (`tight`), the ports share it out evenly, in the same order, and the runs shorten: no two edges into
 * one layer turn at one place, and none doubles back (a run longer than half the gap makes smoothstep go past the
 * turn and back). */
export function turnOf(from: number, to: number, port: number, ports: number, room: number):
  { at: number; run: number; tight: boolean } {
  const gap = to - from;
  const run = Math.min(20, Math.max(2, gap / 4));
  const first = Math.min((from + to) / 2, to - room);
  if (first - 7 * (ports - 1) >= from + run) return { at: first - 7 * port, run, tight: false };
  const last = Math.max(0, ports - 1);
  return { at: to - run - (last ? (gap - 2 * run) * (port / last) : (gap - 2 * run) / 2), run, tight: true };
}

export const ShapeEdge = memo(function ShapeEdge(p: EdgeProps) {
  // An edge into a numbered port (a merge) turns at its own place, so that no two edges into one layer share a
  // segment, and its label sits right before the port it enters (odd ports a line further, so labels never meet),
  // where the gap leaves room for it.
  const data = p.data as { atSource?: boolean; ports?: number } | undefined;
  const port = data?.atSource ? null : portOf(p.targetHandleId);
  const ports = Math.max(data?.ports ?? 1, (port ?? 0) + 1);
  const lr = p.targetPosition === Position.Left;
  let labelX = p.sourceX, labelY = p.sourceY + Math.min(EDGE_LABEL_DY, Math.max(8, (p.targetY - p.sourceY) / 2));
  let centerX: number | undefined, centerY: number | undefined, offset: number | undefined;
  if (lr) {
    // Left to right: the label above the edge where it leaves its source (in the gap between columns).
    const ahead = p.targetX > p.sourceX + 24;
    if (ahead) {
      const turn = port !== null ? turnOf(p.sourceX, p.targetX, port, ports, 30) : null;
      if (turn) ({ at: centerX, run: offset } = turn);
      if (turn && !turn.tight && port !== null) {
        labelX = p.targetX - 40;
        labelY = p.targetY - 10 - 14 * (port % 2);
      } else {
        labelX = p.sourceX + 46;
        labelY = p.sourceY - 10;
      }
    } else {
      // Back to the start of the next row: the label on the long way back, between the rows.
      centerY = (p.sourceY + p.targetY) / 2 + (port !== null ? 7 * port : 0);
      labelX = (p.sourceX + p.targetX) / 2;
      labelY = centerY;
    }
  } else if (p.targetY > p.sourceY + 8 && (port !== null || p.targetY < p.sourceY + 40)) {
    // Into a port, or a short way down (smoothstep's own 20 px runs would double back).
    const turn = turnOf(p.sourceY, p.targetY, port ?? 0, port !== null ? ports : 1, 34);
    ({ at: centerY, run: offset } = turn);
    if (port !== null && !turn.tight) {  // else no room before the port: the label stays by the source
      labelX = p.targetX;
      labelY = p.targetY - 12 - 14 * (port % 2);
    }
  }
  const [path] = getSmoothStepPath({
    sourceX: p.sourceX, sourceY: p.sourceY, sourcePosition: p.sourcePosition ?? Position.Bottom,
    targetX: p.targetX, targetY: p.targetY, targetPosition: p.targetPosition ?? Position.Top, centerX, centerY, offset,
  });
  return (
    <BaseEdge id={p.id} path={path} label={p.label} labelX={labelX} labelY={labelY}
      labelStyle={p.labelStyle} labelShowBg={p.labelShowBg} labelBgStyle={p.labelBgStyle} labelBgPadding={p.labelBgPadding}
      labelBgBorderRadius={p.labelBgBorderRadius} style={p.style} markerEnd={p.markerEnd} markerStart={p.markerStart}
      interactionWidth={p.interactionWidth} />
  );
});

export const edgeTypes = { shape: ShapeEdge };
