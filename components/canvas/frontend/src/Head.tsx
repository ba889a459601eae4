// Above the graph: the model's totals (Total params, Trainable, Non-trainable, Model size, MACs, Layers, Errors,
// Warnings) and the Undo, Redo and Present buttons. Drawn by the canvas, not as Streamlit elements: an edit then
// brings the new totals in the same message, and the same frame, as the node it changed.
// Each total carries Streamlit's metric test ids (stMetric, stMetricLabel, stMetricValue), so whatever reads the
// page's totals by them (tests, scripts) finds them here as it found Streamlit's own metrics.
import { useEffect } from "react";
import { ToolButton } from "./Toolbar";
import type { CanvasEvent, Head as HeadData } from "./types";

/** Ctrl+Z undoes and Ctrl+Shift+Z (or Ctrl+Y) redoes anywhere on the page, except while typing in a box (where
 * they undo the typing). */
function useUndoKeys(emit: (ev: CanvasEvent) => void, ro: boolean) {
  useEffect(() => {
    if (ro) return;
    const onKey = (e: KeyboardEvent) => {
      if (!(e.ctrlKey || e.metaKey) || e.altKey || e.defaultPrevented) return;
      const k = e.key.toLowerCase();
      if (k !== "z" && k !== "y") return;
      const t = e.composedPath()[0];
      if (t instanceof HTMLElement && (t.closest("input, textarea, select") || t.isContentEditable)) return;
      e.preventDefault();
      emit({ kind: k === "y" || e.shiftKey ? "redo" : "undo" });
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [emit, ro]);
}

export function Head({ head, ro, present, emit }: {
  head: HeadData; ro: boolean; present: boolean; emit: (ev: CanvasEvent) => void;
}) {
  useUndoKeys(emit, ro);
  return (
    <div className={present ? "lc-top lc-top-present" : "lc-top"}>
      <div className="lc-totals">
        {head.totals.map((m) => (
          <div key={m.label} className="lc-metric" data-testid="stMetric" title={m.help || undefined}>
            <div className="lc-metric-label" data-testid="stMetricLabel">{m.label}{m.help ? <span className="lc-q" aria-hidden="true">?</span> : null}</div>
            <div className="lc-metric-value" data-testid="stMetricValue">{m.value}</div>
          </div>
        ))}
      </div>
      <div className="lc-top-buttons">
        {!ro && (
          <>
            <ToolButton icon="undo" label="Undo" title="Undo the last change (Ctrl+Z)" disabled={!head.undo} iconOnly
              onClick={() => emit({ kind: "undo" })} />
            <ToolButton icon="redo" label="Redo" title="Redo (Ctrl+Shift+Z)" disabled={!head.redo} iconOnly
              onClick={() => emit({ kind: "redo" })} />
          </>
        )}
        <ToolButton icon="present" label={present ? "Stop presenting" : "Present"} primary={present}
          title="For a projector: no sidebar, larger text, high contrast (or add ?present=1 to the address)"
          onClick={() => emit({ kind: "present" })} />
      </div>
    </div>
  );
}
