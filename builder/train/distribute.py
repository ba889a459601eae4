"""tf.distribute strategies for training: every local GPU, or several machines through TF_CONFIG.

- auto: MirroredStrategy when more than one GPU is visible, else the default strategy;
- one: one device (the first GPU, else the CPU);
- mirrored: every local GPU (with none, the default strategy and a notice);
- multi-worker: MultiWorkerMirroredStrategy configured from the TF_CONFIG environment variable.

The model is built and compiled inside `strategy.scope()`; the batch size is
global (split across the replicas).
"""

from __future__ import annotations

import json
import os
import socket
import time

from builder.config import number

STRATEGIES = ("auto", "one", "mirrored", "multi-worker")


class StrategyError(Exception):
    """A strategy that cannot be set up; str(e) says why and what to do."""


def parse_tf_config(text: str | None) -> dict:
    """TF_CONFIG, checked: `{"cluster": {"worker": ["host:port", ...]}, "task": {"type": "worker", "index": i}}`.

    Raises:
        StrategyError: missing, not JSON, or not a consistent cluster and task.
    """
    if not text or not text.strip():
        raise StrategyError("multi-worker training needs the TF_CONFIG environment variable: "
                            '{"cluster": {"worker": ["host1:port", "host2:port"]}, "task": {"type": "worker", "index": 0}}')
    try:
        config = json.loads(text)
    except json.JSONDecodeError as e:
        raise StrategyError(f"TF_CONFIG is not valid JSON ({e.msg} at character {e.pos})") from None
    if not isinstance(config, dict) or not isinstance(config.get("cluster"), dict):
        raise StrategyError('TF_CONFIG needs a "cluster" object, e.g. {"worker": ["host1:port", "host2:port"]}')
    cluster, task = config["cluster"], config.get("task")
    for role, addresses in cluster.items():
        if role not in ("worker", "chief"):
            raise StrategyError(f'TF_CONFIG cluster role {role!r} is not supported: use "worker" (and "chief")')
        if not isinstance(addresses, list) or not addresses:
            raise StrategyError(f"TF_CONFIG cluster {role!r} must be a non-empty list of host:port")
        for address in addresses:
            _address(address)
    if "worker" not in cluster:
        raise StrategyError('TF_CONFIG cluster needs a "worker" list')
    if not isinstance(task, dict) or task.get("type") not in cluster:
        raise StrategyError(f'TF_CONFIG "task" must name one of the cluster roles ({", ".join(cluster)}) '
                            'and an index, e.g. {"type": "worker", "index": 0}')
    index = task.get("index")
    if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < len(cluster[task["type"]]):
        raise StrategyError(f"TF_CONFIG task index must be 0 to {len(cluster[task['type']]) - 1}, got {index!r}")
    return config


def _address(address) -> tuple[str, int]:
    if not isinstance(address, str) or ":" not in address:
        raise StrategyError(f"TF_CONFIG address {address!r} must be host:port")
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise StrategyError(f"TF_CONFIG address {address!r} must be host:port with a port from 1 to 65535")
    return host, int(port)


def is_chief(config: dict) -> bool:
    """The chief saves the model: the "chief" task, or worker 0 when there is no chief."""
    task = config["task"]
    if "chief" in config["cluster"]:
        return task["type"] == "chief"
    return task["type"] == "worker" and task["index"] == 0


def wait_for_workers(config: dict, timeout: float | None = None) -> None:
    """Until every other task of the cluster accepts connections.

    Raises:
        StrategyError: one did not come up in time (no endless wait).
    """
    timeout = timeout if timeout is not None else _worker_timeout()
    me = (config["task"]["type"], config["task"]["index"])
    deadline = time.monotonic() + timeout
    for role, addresses in config["cluster"].items():
        for i, address in enumerate(addresses):
            if (role, i) == me:
                continue
            host, port = _address(address)
            while True:
                try:
                    with socket.create_connection((host, port), timeout=1.0):
                        break
                except OSError:
                    if time.monotonic() > deadline:
                        raise StrategyError(f"{role} {i} at {address} did not come up within {timeout:.0f} s: "
                                            "start it with the same TF_CONFIG (its own task index)") from None
                    time.sleep(0.2)


def make_strategy(name: str, notes: list[str] | None = None):
    """The strategy called `name`; notices (such as a fallback) are appended to `notes`.

    Raises:
        StrategyError: an unknown name, or a bad TF_CONFIG for multi-worker.
    """
    import tensorflow as tf

    if name not in STRATEGIES:
        raise StrategyError(f"unknown strategy {name!r}: use one of {', '.join(STRATEGIES)}")
    notes = notes if notes is not None else []
    gpus = tf.config.list_physical_devices("GPU")
    for gpu in gpus:
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
        except RuntimeError:  # the GPU is already in use by this process: its setting stays
            pass
    if name == "multi-worker":
        return _multi_worker(tf, parse_tf_config(os.environ.get("TF_CONFIG")))
    if name == "mirrored" and not gpus:
        notes.append("mirrored needs GPUs and none is visible: training on the CPU with the default strategy")
        return tf.distribute.get_strategy()
    if name == "mirrored" or (name == "auto" and len(gpus) > 1):
        return tf.distribute.MirroredStrategy()
    if name == "one":
        return tf.distribute.OneDeviceStrategy("/gpu:0" if gpus else "/cpu:0")
    return tf.distribute.get_strategy()


def _multi_worker(tf, config: dict):
    """MultiWorkerMirroredStrategy, once every task of TF_CONFIG is reachable.

    Its constructor waits without a time limit (inside TensorFlow, holding the interpreter) until every task has
    connected, so the waiting is done first, here: this task listens on its own address while it waits for the
    others', so that they see it too, then lets TensorFlow take the port. A worker that never comes up gives a
    message naming it instead of a hang.
    """
    task = config["task"]
    _, port = _address(config["cluster"][task["type"]][task["index"]])
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind(("", port))
        listener.listen(16)
    except OSError as e:
        listener.close()
        raise StrategyError(f"this task's address (port {port}) cannot be used: {e.strerror or e}") from None
    try:
        wait_for_workers(config)
    finally:
        listener.close()
    options = tf.distribute.experimental.CommunicationOptions(timeout_seconds=_worker_timeout())
    return tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)


def _worker_timeout() -> float:
    return float(number("LAYERCANVAS_WORKER_TIMEOUT"))


def check_batch(batch_size: int, strategy) -> None:
    """The batch size is global: it must give every replica at least one sample."""
    replicas = strategy.num_replicas_in_sync
    if batch_size < replicas:
        raise StrategyError(f"the batch size ({batch_size}) is smaller than the number of replicas ({replicas}): "
                            f"use a batch size of at least {replicas} (it is split across them)")


def fix_keras_multi_worker(model, strategy):
    """Lets Keras 3's `fit`/`evaluate` run under MultiWorkerMirroredStrategy (keras-team/keras#20585).

    Keras 3.15 fails there twice: its first-batch build reduces the distributed
    batch with a collective in eager mode ("Attempt to convert a value
    (PerReplica..."), and it averages the (already synchronized) scalar metrics
    along an axis they do not have ("Invalid reduction dimension 0"). This
    builds from the local replica's batch and averages scalars without an axis.
    Only runs under a multi-worker strategy change.
    """
    import tensorflow as tf
    from keras.src.backend.tensorflow import trainer

    def local(value):
        if isinstance(value, tf.distribute.DistributedValues):
            return strategy.experimental_local_results(value)[0]
        return value

    build = model._maybe_symbolic_build

    def symbolic_build(iterator=None, data_batch=None):
        if iterator is not None:
            for _, _, it in iterator:
                data_batch = tf.nest.map_structure(local, next(it))
                break
        return build(data_batch=data_batch)

    model._maybe_symbolic_build = symbolic_build
    if getattr(trainer.reduce_per_replica, "multi_worker_fixed", False):
        return model
    reduce = trainer.reduce_per_replica

    def reduce_per_replica(values, strategy, reduction="auto"):
        if reduction in ("auto", "mean") and trainer._collective_all_reduce_multi_worker(strategy):
            def mean(v):
                if not trainer._is_per_replica_instance(v):
                    return v
                rank = strategy.experimental_local_results(v)[0].shape.rank
                return strategy.reduce("MEAN", v, axis=0 if rank else None)

            return tf.nest.map_structure(mean, values)
        return reduce(values, strategy, reduction)

    reduce_per_replica.multi_worker_fixed = True
    trainer.reduce_per_replica = reduce_per_replica
    return model
