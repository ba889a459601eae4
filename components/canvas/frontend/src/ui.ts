// The canvas's own types, not on the wire (those are in types.ts, generated from Python's schema).
import type { CanvasEvent } from "./types";

/** Sends an event to Python (a read-only canvas sends selections only). */
export type Emit = (ev: CanvasEvent) => void;
export type XY = { x: number; y: number };
/** The context menu: where it opened (in the canvas, and in flow coordinates) and on what. */
export type Menu = { x: number; y: number; flow: XY; node?: string; edge?: string } | null;
/** The quick-add box: where it opened, and what a pick does (insert into `edge`, add `after` a layer, or add there). */
export type QuickAdd = { x: number; y: number; flow: XY; edge?: string; after?: string } | null;
