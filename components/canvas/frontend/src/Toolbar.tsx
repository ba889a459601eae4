// The canvas's toolbar buttons: an icon and a label; where the canvas is narrow (a 1024 px window, a projector) the
// labels hide and the icons stay, each with its tooltip, so the toolbar keeps to one line over the graph.

const PATHS: Record<string, string> = {
  // Material Symbols outlines (Apache 2.0), 24 x 24.
  layout: "M3 3h8v6H3V3zm10 0h8v6h-8V3zM8 15h8v6H8v-6zM7 9h2v3h8V9h2v5h-6v1h-2v-1H7V9z",
  fit: "M3 3h6v2H5v4H3V3zm12 0h6v6h-2V5h-4V3zM3 15h2v4h4v2H3v-6zm16 0h2v6h-6v-2h4v-4zM8 8h8v8H8V8z",
  group: "M3 3h4v2H5v2H3V3zm14 0h4v4h-2V5h-2V3zM3 17h2v2h2v2H3v-4zm16 2v-2h2v4h-4v-2h2zM9 3h6v2H9V3zm0 16h6v2H9v-2zM3 9h2v6H3V9zm16 0h2v6h-2V9zM8 8h8v8H8V8z",
  right: "M4 11h12.2l-4.6-4.6L13 5l7 7-7 7-1.4-1.4 4.6-4.6H4v-2z",
  down: "M13 4v12.2l4.6-4.6L19 13l-7 7-7-7 1.4-1.4 4.6 4.6V4h2z",
  delete: "M6 19c0 1.1.9 2 2 2h8a2 2 0 0 0 2-2V7H6v12zm2-10h8v10H8V9zm7.5-5-1-1h-5l-1 1H5v2h14V4h-3.5z",
  // Material Icons (Apache 2.0), 24 x 24: above the graph (Head.tsx).
  undo: "M12.5 8c-2.65 0-5.05.99-6.9 2.6L2 7v9h9l-3.62-3.62c1.39-1.16 3.16-1.88 5.12-1.88 3.54 0 6.55 2.31 7.6 5.5l2.37-.78C21.08 11.03 17.15 8 12.5 8z",
  redo: "M18.4 10.6C16.55 8.99 14.15 8 11.5 8c-4.65 0-8.58 3.03-9.96 7.22L3.9 16c1.05-3.19 4.05-5.5 7.6-5.5 1.95 0 3.73.72 5.12 1.88L13 16h9V7l-3.6 3.6z",
  present: "M21 3H3c-1.11 0-2 .89-2 2v14c0 1.11.89 2 2 2h18c1.11 0 2-.89 2-2V5c0-1.11-.89-2-2-2zm0 16.02H3V4.98h18v14.04zM10 12H8l4-4 4 4h-2v4h-4v-4z",
};

/** `iconOnly`: the label is the tooltip's and the accessible name only (Undo and Redo, known by their icons);
 * `primary`: drawn as the one button that is on (Stop presenting). */
export function ToolButton({ icon, label, title, onClick, disabled, iconOnly, primary }: {
  icon: keyof typeof PATHS; label: string; title: string; onClick: () => void; disabled?: boolean;
  iconOnly?: boolean; primary?: boolean;
}) {
  return (
    <button className={primary ? "lc-primary" : undefined} onClick={onClick} disabled={disabled} title={title}
      aria-label={label}>
      <svg className="lc-icon" viewBox="0 0 24 24" aria-hidden="true"><path d={PATHS[icon]} /></svg>
      {!iconOnly && <span className="lc-label">{label}</span>}
    </button>
  );
}
