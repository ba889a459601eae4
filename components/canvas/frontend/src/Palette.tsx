// The palette: a narrow, searchable list of layers by category. Click adds after the selected layer; a drag
// (pointer events, so touch screens work too) drops it where it is let go.
import { useMemo, useRef, useState } from "react";
import type { PaletteItem } from "./types";

export function searchPalette(items: PaletteItem[], text: string): PaletteItem[] {
  const t = text.trim().toLowerCase().replace(/\s+/g, "");
  if (!t) return items;
  const score = (p: PaletteItem) => {
    const type = p.type.toLowerCase();
    if (type === t) return 0;
    if (type.startsWith(t)) return 1;
    if (type.includes(t)) return 2;
    if (p.cat.startsWith(t)) return 3;
    if (p.help.toLowerCase().includes(text.trim().toLowerCase())) return 4;
    return 9;
  };
  return items.map((p) => [score(p), p] as const).filter(([s]) => s < 9).sort((a, b) => a[0] - b[0]).map(([, p]) => p);
}

type Props = {
  items: PaletteItem[];
  onAdd: (type: string) => void;
  onDrag: (g: { type: string; x: number; y: number } | null) => void;
  onDrop: (type: string, clientX: number, clientY: number) => void;
};

export function Palette({ items, onAdd, onDrag, onDrop }: Props) {
  const [text, setText] = useState("");
  const [open, setOpen] = useState<Record<string, boolean>>({ input: true, core: true });
  const drag = useRef<{ type: string; x: number; y: number; id: number; moved: boolean } | null>(null);
  const found = useMemo(() => searchPalette(items, text), [items, text]);
  const cats = useMemo(() => {
    const m = new Map<string, PaletteItem[]>();
    for (const p of found) m.set(p.cat, [...(m.get(p.cat) ?? []), p]);
    return [...m.entries()];
  }, [found]);
  const searching = text.trim().length > 0;

  const down = (p: PaletteItem) => (e: React.PointerEvent<HTMLDivElement>) => {
    if (e.button !== 0) return;
    drag.current = { type: p.type, x: e.clientX, y: e.clientY, id: e.pointerId, moved: false };
    e.currentTarget.setPointerCapture(e.pointerId);
  };
  const move = (e: React.PointerEvent<HTMLDivElement>) => {
    const d = drag.current;
    if (!d || d.id !== e.pointerId) return;
    if (!d.moved && Math.hypot(e.clientX - d.x, e.clientY - d.y) < 5) return;
    d.moved = true;
    onDrag({ type: d.type, x: e.clientX, y: e.clientY });
  };
  const up = (e: React.PointerEvent<HTMLDivElement>) => {
    const d = drag.current;
    drag.current = null;
    onDrag(null);
    if (!d || d.id !== e.pointerId) return;
    if (d.moved) onDrop(d.type, e.clientX, e.clientY);
    else onAdd(d.type);
  };
  const cancel = () => {
    drag.current = null;
    onDrag(null);
  };

  return (
    <div className="lc-palette">
      <input className="lc-search" value={text} placeholder="Search layers" aria-label="Search layers"
        onChange={(e) => setText(e.target.value)}
        onKeyDown={(e) => {
          e.stopPropagation();
          if (e.key === "Enter" && found.length) onAdd(found[0].type);
          if (e.key === "Escape") setText("");
        }} />
      <div className="lc-palette-list">
        {cats.map(([cat, ps]) => {
          const shown = searching || open[cat];
          return (
            <div key={cat} className="lc-cat">
              <button className="lc-cat-head" onClick={() => setOpen((o) => ({ ...o, [cat]: !o[cat] }))} aria-expanded={!!shown}>
                <span className={`lc-dot cat-${cat}`} />{cat}<span className="lc-cat-n">{shown ? "▾" : `${ps.length} ▸`}</span>
              </button>
              {shown && ps.map((p) => (
                <div key={p.type} className="lc-item" data-type={p.type} title={`${p.help}\nClick: add after the selected layer. Drag: drop it on the canvas.`}
                  onPointerDown={down(p)} onPointerMove={move} onPointerUp={up} onPointerCancel={cancel} role="button" tabIndex={-1}>
                  {p.type}
                </div>
              ))}
            </div>
          );
        })}
        {!found.length && <div className="lc-none">No layer matches. Try conv, dense, pool, lstm or merge.</div>}
      </div>
    </div>
  );
}
