// Above the graph: the model's totals (Total params, Trainable, Non-trainable, Model size, MACs, Layers, Errors,
// Warnings) and the Undo, Redo and Present buttons. Drawn by the canvas, not as Streamlit elements: an edit then
// brings the new totals in the same message, and the same frame, as the node it changed.
// Each total carries Streamlit's metric test ids (stMetric, stMetricLabel, stMetricValue), so whatever reads the
// page's totals by them (tests, scripts) finds them here as it found Streamlit's own metrics.
import { useEffect } from "react";
import type { CanvasEvent, Head as HeadData } from "./types";

const PATHS = {
  // Material Icons (Apache 2.0), 24 x 24.
  undo: "M12.5 8c-2.65 0-5.05.99-6.9 2.6L2 7v9h9l-3.62-3.62c1.39-1.16 3.16-1.88 5.12-1.88 3.54 0 6.55 2.31 7.6 5.5l2.37-.78C21.08 11.03 17.15 8 12.5 8z",
  redo: "M18.4 10.6C16.55 8.99 14.15 8 11.5 8c-4.65 0-8.58 3.03-9.96 7.22L3.9 16c1.05-3.19 4.05-5.5 7.6-5.5 1.95 0 3.73.72 5.12 1.88L13 16h9V7l-3.6 3.6z",
  present: "M21 3H3c-1.11 0-2 .89-2 2v14c0 1.11.89 2 2 2h18c1.11 0 2-.89 2-2V5c0-1.11-.89-2-2-2zm0 16.02H3V4.98h18v14.04zM10 12H8l4-4 4 4h-2v4h-4v-4z",
};

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
            <HeadButton icon="undo" label="Undo" title="Undo the last change (Ctrl+Z)" disabled={!head.undo} iconOnly
              onClick={() => emit({ kind: "undo" })} />
            <HeadButton icon="redo" label="Redo" title="Redo (Ctrl+Shift+Z)" disabled={!head.redo} iconOnly
              onClick={() => emit({ kind: "redo" })} />
          </>
        )}
        <HeadButton icon="present" label={present ? "Stop presenting" : "Present"} primary={present}
          title="For a projector: no sidebar, larger text, high contrast (or add ?present=1 to the address)"
          onClick={() => emit({ kind: "present" })} />
      </div>
    </div>
  );
}

/** A button; `iconOnly`: its label is its tooltip and accessible name only (Undo and Redo, known by their icons). */
function HeadButton({ icon, label, title, onClick, disabled, primary, iconOnly }: {
  icon: keyof typeof PATHS; label: string; title: string; onClick: () => void; disabled?: boolean; primary?: boolean;
  iconOnly?: boolean;
}) {
  return (
    <button className={primary ? "lc-primary" : undefined} onClick={onClick} disabled={disabled} title={title}
      aria-label={label}>
      <svg className="lc-icon" viewBox="0 0 24 24" aria-hidden="true"><path d={PATHS[icon]} /></svg>
      {!iconOnly && <span className="lc-label">{label}</span>}
    </button>
  );
}
