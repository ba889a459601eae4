// The Streamlit components-v2 entry: Streamlit calls the default export with the data from Python on every
// run that changes it; the React root is made once per mounted element and rendered again with new data.
import { createRoot, type Root } from "react-dom/client";
import "@xyflow/react/dist/style.css";
import "./style.css";
import { App } from "./App";
import type { CanvasEvent, Data, Sent } from "./types";

/** What Streamlit passes the component (components v2). */
type Args = {
  data: Data;
  parentElement: HTMLElement | ShadowRoot;
  setStateValue: (name: string, value: unknown) => void;
  setTriggerValue: (name: string, value: unknown) => void;
};
type Mount = { root: Root; host: HTMLElement; pending: Sent[]; seq: number; args: Args };

const mounts = new WeakMap<object, Mount>();
// Sequence numbers only grow, across reloads too: Python applies each event once (seq > the last it applied).
let nextSeq = Date.now() * 1000;

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
  let m = mounts.get(parentElement);
  if (!m) {
    const host = document.createElement("div");
    host.className = "lc-host";
    parentElement.appendChild(host);
    m = { root: createRoot(host), host, pending: [], seq: 0, args };
    mounts.set(parentElement, m);
  }
  const mount = m;
  mount.args = args;
  const ack = args.data?.ack ?? 0;
  mount.pending = mount.pending.filter((e) => e.seq > ack);
  const send = (ev: CanvasEvent, v: number) => {
    nextSeq += 1;
    mount.pending.push({ ...ev, seq: nextSeq, v } as Sent);
    // A state value (not a trigger): it persists until Python has applied it, so an event that lands while a
    // run is under way is not lost; Python skips what it already applied.
    mount.args.setStateValue("events", mount.pending.slice(-mount.args.data.limits.events));
  };
  mount.root.render(<App data={args.data} send={send} rootNode={parentElement} />);
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
