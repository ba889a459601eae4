// Copy, paste and duplicate. Ctrl+C writes the selected layers to the system clipboard as JSON (a Clip) and keeps
// them here too; Ctrl+V pastes what the system clipboard holds, or what is kept here where it cannot be read.
import { useCallback, useRef } from "react";
import type { Say } from "./toast";
import type { ClipEdge, ClipNode, Data, GroupIn } from "./types";
import type { Emit, XY } from "./ui";

/** What Ctrl+C puts on the clipboard (as JSON text): layers and the connections between them. */
export type Clip = { format: "layercanvas-clip"; version: 1; nodes: ClipNode[]; edges: ClipEdge[] };

// What Ctrl+C copied last, for when the system clipboard cannot be read (no permission, an insecure page). Module
// state on purpose: it stands in for the system clipboard, which belongs to the page, not to one canvas. It must
// outlive the canvas's element (copy, switch pages and come back, paste), and a copy in one canvas pastes in any.
let held: Clip | null = null;

/** What Ctrl+C copied last (null: nothing yet). */
export function heldClip(): Clip | null {
  return held;
}

export function useClipboard(data: Data, boxGroup: Map<string, GroupIn>, selectedIds: () => string[], emit: Emit,
  say: Say) {
  /** The clip of these layers (a collapsed group: its layers) and the connections among them; null: none. */
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
  const copy = useCallback((ids?: string[]): Clip | null => {
    const clip = clipOf(ids ?? selectedIds());
    if (!clip) {
      say("Select layers to copy first.", "info");
      return null;
    }
    held = clip;
    try {
      void navigator.clipboard?.writeText(JSON.stringify(clip)).catch(() => undefined);
    } catch {
      /* no clipboard access: the copy stays inside the canvas */
    }
    say(`Copied ${clip.nodes.length} layer${clip.nodes.length === 1 ? "" : "s"}.`, "info");
    return clip;
  }, [clipOf, selectedIds, say]);
  /** Pastes `clip`: at `at` (flow coordinates), or beside where it was copied. */
  const pasteClip = useCallback((clip: Clip, at?: XY) => {
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
  // The paste event brings the system clipboard's text.
  const onPaste = useCallback((e: React.ClipboardEvent) => {
    if ((e.target as HTMLElement).closest("input, textarea")) return;
    e.preventDefault();
    if (pasteTimer.current !== null) {
      clearTimeout(pasteTimer.current);
      pasteTimer.current = null;
    }
    const text = e.clipboardData.getData("text/plain");
    if (text.trim()) pasteText(text);
    else if (held) pasteClip(held);
    else say("Nothing to paste: select layers and press Ctrl+C first.", "info");
  }, [pasteText, pasteClip, say]);
  /** Ctrl+V: the paste event brings the system clipboard; where none comes, paste what Ctrl+C copied here. */
  const pasteSoon = useCallback(() => {
    pasteTimer.current = window.setTimeout(() => {
      pasteTimer.current = null;
      if (held) pasteClip(held);
      else say("Nothing to paste: select layers and press Ctrl+C first.", "info");
    }, 80);
  }, [pasteClip, say]);
  const onCopy = useCallback((e: React.ClipboardEvent) => {
    if ((e.target as HTMLElement).closest("input, textarea")) return;
    const clip = held;
    if (clip) {
      e.clipboardData.setData("text/plain", JSON.stringify(clip));
      e.preventDefault();
    }
  }, []);
  return { clipOf, copy, pasteClip, onPaste, pasteSoon, onCopy };
}
