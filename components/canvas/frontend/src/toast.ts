// Messages inside the canvas: its own (a connection refused, something copied) and Python's (Data.toast).
import { useCallback, useEffect, useRef, useState } from "react";
import type { Toast } from "./types";

export type Say = (text: string, kind?: Toast["kind"]) => void;

/** The message shown now, and `say` to show one. Python's is shown once per number (`n`): data is new on every run. */
export function useToast(fromPython: Toast | null): { toast: Toast | null; say: Say } {
  const [toast, setToast] = useState<Toast | null>(null);
  const seen = useRef(0);
  const say = useCallback<Say>((text, kind = "error") => {
    setToast({ text, kind, n: Date.now() });
  }, []);
  useEffect(() => {
    if (!toast) return;
    const t = setTimeout(() => setToast(null), toast.kind === "error" ? 6000 : 3500);
    return () => clearTimeout(t);
  }, [toast]);
  useEffect(() => {
    if (fromPython && fromPython.n !== seen.current) {
      seen.current = fromPython.n;
      setToast({ ...fromPython });
    }
  }, [fromPython]);
  return { toast, say };
}
