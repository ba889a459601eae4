// Connecting: a connection being dragged is checked against the rules (rules.ts), so a refused one says why at once;
// a made one goes to Python as a connect event.
import { useCallback, useMemo } from "react";
import type { Connection, Edge, OnConnectEnd } from "@xyflow/react";
import { portOf, successorsOf, whyNot } from "./rules";
import type { Say } from "./toast";
import type { EdgeIn, NodeIn } from "./types";
import type { Emit } from "./ui";

export function useConnect(byId: Map<string, NodeIn>, edges: EdgeIn[], emit: Emit, say: Say) {
  const successors = useMemo(() => successorsOf(edges), [edges]);
  const refusal = useCallback((c: Connection | Edge) => whyNot(c, byId, edges, successors)?.text ?? null,
    [byId, edges, successors]);
  const isValidConnection = useCallback((c: Connection | Edge) => refusal(c) === null, [refusal]);
  const onConnect = useCallback((c: Connection) => {
    emit({ kind: "connect", source: c.source, target: c.target, port: portOf(c.targetHandle) });
  }, [emit]);
  // Let go over a handle that refused: say why (a drag may start at either end).
  const onConnectEnd: OnConnectEnd = useCallback((_e, st) => {
    if (st.toHandle && !st.isValid && st.fromNode && st.toNode) {
      const c = { source: st.fromNode.id, target: st.toNode.id, sourceHandle: "out", targetHandle: st.toHandle.id ?? "in" } as Connection;
      const fromIsTarget = st.fromHandle?.type === "target";
      const why = refusal(fromIsTarget ? { ...c, source: st.toNode.id, target: st.fromNode.id, targetHandle: st.fromHandle?.id ?? "in" } : c);
      if (why) say(why);
    }
  }, [refusal, say]);
  return { isValidConnection, onConnect, onConnectEnd };
}
