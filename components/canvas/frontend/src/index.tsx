// The Streamlit components-v2 entry: Streamlit calls the default export with the data from Python on every
// run that changes it; the React root is made once per mounted element and rendered again with new data.
import { flushSync } from "react-dom";
import { createRoot, type Root } from "react-dom/client";
import "@xyflow/react/dist/style.css";
import "./style.css";
import { App } from "./App";
import type { CanvasEvent, Data, Sent } from "./types";
import type { Kept } from "./view";

/** What Streamlit passes the component (components v2). `key`: the element's id, the same for a canvas across
 * reruns and redraws (from its Streamlit key and page). */
type Args = {
  name: string;
  key: string;
  data: Data;
  parentElement: HTMLElement | ShadowRoot;
  setStateValue: (name: string, value: unknown) => void;
  setTriggerValue: (name: string, value: unknown) => void;
};

/** A mounted element: its React root, the events Python has not yet applied, and Streamlit's latest args. */
type Mount = { root: Root; pending: Sent[]; args: Args };
/** What a canvas keeps across its elements: its last sequence number and its view. */
type Life = { seq: number; kept: Kept };

// Module state, each for a reason:
// `mounts`: each mounted element's React root. Streamlit calls `render` again for the same element with new data,
// and the root must be found again, not made anew; keyed weakly by the element and dropped when it leaves the page.
const mounts = new WeakMap<object, Mount>();
// `lives`: what a canvas keeps beyond its element, by its Streamlit id. Streamlit may draw the element anew (a page
// switch, a rerun that changes what is above it; the new element mounts before the old one leaves). The view the
// user panned to must come back with it (not a fit), and sequence numbers must only grow: Python applies each event
// once (seq > the last it applied), in a session that outlives elements and reloads; started from the clock, they
// grow across reloads too. One small entry per canvas id, for the page's life.
const lives = new Map<string, Life>();

const decoder = new TextDecoder();

/** The data arrives as JSON bytes (see render_canvas in __init__.py). */
function decode(raw: unknown): Data {
  if (raw instanceof Uint8Array) return JSON.parse(decoder.decode(raw));
  if (raw instanceof ArrayBuffer) return JSON.parse(decoder.decode(new Uint8Array(raw)));
  if (typeof raw === "string") return JSON.parse(raw);
  return raw as Data;
}

export default function render(raw: Omit<Args, "data"> & { data: unknown }) {
  const args: Args = { ...raw, data: decode(raw.data) };
  const { parentElement } = args;
  const id = args.key || args.name;
  let life = lives.get(id);
  if (!life) {
    life = { seq: Date.now() * 1000, kept: { fit: -1, reveal: null, copy: null, viewport: null, moved: false } };
    lives.set(id, life);
  }
  const canvas = life;
  let m = mounts.get(parentElement);
  if (!m) {
    const host = document.createElement("div");
    host.className = "lc-host";
    parentElement.appendChild(host);
    m = { root: createRoot(host), pending: [], args };
    mounts.set(parentElement, m);
  }
  const mount = m;
  mount.args = args;
  const ack = args.data?.ack ?? 0;
  mount.pending = mount.pending.filter((e) => e.seq > ack);
  const send = (ev: CanvasEvent, v: number) => {
    canvas.seq += 1;
    mount.pending.push({ ...ev, seq: canvas.seq, v });
    // A state value (not a trigger): it persists until Python has applied it, so an event that lands while a
    // run is under way is not lost; Python skips what it already applied. Python reads the last limits.events.
    mount.args.setStateValue("events", mount.pending.slice(-mount.args.data.limits.events));
  };
  // At once, not in a later task: an edit's new totals and its node are painted in the same frame.
  flushSync(() => mount.root.render(<App data={args.data} send={send} rootNode={parentElement} kept={canvas.kept} />));
  return () => {
    // Unmount only when the element really left the page (not between two renders).
    setTimeout(() => {
      const el = parentElement instanceof ShadowRoot ? parentElement.host : parentElement;
      if (!el.isConnected && mounts.get(parentElement) === mount) {
        mount.root.unmount();
        mounts.delete(parentElement);
      }
    }, 0);
  };
}
