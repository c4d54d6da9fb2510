"""Device contexts (``mx.cpu()``, ``mx.context.Context``). mxopt runs on the CPU only."""

from __future__ import annotations

__all__ = ["Context", "cpu", "gpu", "cpu_pinned", "current_context", "num_gpus"]


class Context:
    """A device context; only ``cpu`` exists in mxopt (``cpu_pinned`` is accepted as cpu)."""

    devtype2str = {1: "cpu", 2: "gpu", 3: "cpu_pinned", 5: "cpu_shared"}
    devstr2type = {v: k for k, v in devtype2str.items()}

    def __init__(self, device_type: "str | Context" = "cpu", device_id: int = 0) -> None:
        if isinstance(device_type, Context):
            device_type, device_id = device_type.device_type, device_type.device_id
        if device_type not in ("cpu", "cpu_pinned", "cpu_shared"):
            raise ValueError(
                f"mxopt runs on CPU only: device_type={device_type!r} is not available "
                "(use mx.cpu())")
        self.device_type = device_type
        self.device_id = int(device_id)

    @property
    def device_typeid(self) -> int:
        return self.devstr2type[self.device_type]

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Context) and self.device_type == other.device_type
                and self.device_id == other.device_id)

    def __hash__(self) -> int:
        return hash((self.device_type, self.device_id))

    def __repr__(self) -> str:
        return f"{self.device_type}({self.device_id})"

    __str__ = __repr__

    def __enter__(self) -> "Context":
        return self

    def __exit__(self, *exc: object) -> None:
        return None


def cpu(device_id: int = 0) -> Context:
    """The CPU context (``device_id`` is accepted for MXNet compatibility and ignored)."""
    return Context("cpu", device_id)


def cpu_pinned(device_id: int = 0) -> Context:
    return Context("cpu_pinned", device_id)


def gpu(device_id: int = 0) -> Context:
    """Always raises: mxopt runs on CPU."""
    raise ValueError(f"mxopt runs on CPU only: mx.gpu({device_id}) is not available (use mx.cpu())")


def num_gpus() -> int:
    return 0


def current_context() -> Context:
    return Context("cpu", 0)
