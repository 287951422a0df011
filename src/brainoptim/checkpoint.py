"""Saving and loading optimizer checkpoints in a format that holds only data.

A checkpoint file is a fixed magic line, the SHA-256 digest of the body, and the
body: one msgpack document with a header (format version, optimizer kind, the
shapes and dtypes of the registered parameters), the optimizer's
:meth:`~brainoptim.Optimizer.state_dict` and, optionally, parameter values. Arrays
are stored as raw bytes with their dtype name and shape (bfloat16 and the other
``ml_dtypes`` types included), so every value comes back bit for bit. Loading
never executes code: there is no pickle, and only known dtype names are accepted.

Writing is atomic. The file is written under a temporary name next to the
target, flushed and ``fsync``-ed, then renamed over the target, and the directory
is ``fsync``-ed; a process killed in the middle of :func:`save` leaves the
previous checkpoint in place and loadable.

Example:
    >>> import os, tempfile, brainstate, jax.numpy as jnp, brainoptim
    >>> w = brainstate.ParamState(jnp.ones(3))
    >>> opt = brainoptim.SGD(lr=0.1, momentum=0.9)
    >>> opt.register_trainable_weights({'w': w})
    >>> opt.update({'w': jnp.ones(3)})
    >>> path = os.path.join(tempfile.mkdtemp(), 'opt.ckpt')
    >>> brainoptim.save(path, opt, params={'w': w})
    >>> fresh = brainoptim.SGD(lr=0.1, momentum=0.9)
    >>> fresh.register_trainable_weights({'w': w})
    >>> values = brainoptim.load(path, fresh)
    >>> int(fresh.step_count.value), values['w'].round(4)
    (1, array([0.9, 0.9, 0.9], dtype=float32))
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sys
import threading
from typing import Any

import brainstate
import jax
import jax.numpy as jnp
import ml_dtypes
import msgpack
import numpy as np

from ._base import Optimizer
from ._states import path_str

__all__ = ["save", "load", "FORMAT_VERSION"]

#: The version written by :func:`save`; :func:`load` reads this version and older.
FORMAT_VERSION = 1

_MAGIC = b"brainoptim-ckpt\n"
_DIGEST = 32  # bytes of a SHA-256 digest

_NUMPY_DTYPES = (
    "bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32",
    "uint64", "float16", "float32", "float64", "complex64", "complex128",
)  # fmt: skip
_ML_DTYPES = (
    "bfloat16", "float8_e4m3fn", "float8_e4m3fnuz", "float8_e4m3b11fnuz",
    "float8_e5m2", "float8_e5m2fnuz", "int4", "uint4",
)  # fmt: skip
#: dtype name -> dtype; the only dtypes a checkpoint may hold.
_DTYPES: dict[str, np.dtype] = {
    **{name: np.dtype(name) for name in _NUMPY_DTYPES},
    **{
        name: np.dtype(getattr(ml_dtypes, name))
        for name in _ML_DTYPES
        if hasattr(ml_dtypes, name)
    },
}


# -- arrays and trees as msgpack-able data ----------------------------------------


def _encode_array(x: Any, where: str) -> dict[str, Any]:
    arr = np.asarray(x)
    name = arr.dtype.name
    if _DTYPES.get(name) != arr.dtype:
        raise TypeError(
            f"{where} has dtype {arr.dtype}, which a checkpoint cannot hold; "
            f"supported: {', '.join(_DTYPES)}"
        )
    data = np.ascontiguousarray(arr).tobytes()
    return {"dtype": name, "shape": list(arr.shape), "data": data}


def _decode_array(record: Any, where: str, byteorder: str) -> np.ndarray:
    if not isinstance(record, dict) or set(record) != {"dtype", "shape", "data"}:
        raise ValueError(f"the checkpoint entry {where} is not an array record")
    dtype = _DTYPES.get(record["dtype"])
    if dtype is None:
        raise ValueError(
            f"the checkpoint entry {where} has dtype {record['dtype']!r}; "
            f"supported: {', '.join(_DTYPES)}"
        )
    shape = tuple(record["shape"])
    if not all(isinstance(n, int) and n >= 0 for n in shape):
        raise ValueError(f"the checkpoint entry {where} has shape {list(shape)}")
    data = record["data"]
    if not isinstance(data, bytes):
        raise ValueError(f"the checkpoint entry {where} holds no bytes")
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) != expected:
        raise ValueError(
            f"the checkpoint entry {where} holds {len(data)} bytes, its dtype "
            f"{dtype.name} and shape {list(shape)} need {expected}"
        )
    arr = np.frombuffer(data, dtype=dtype).reshape(shape)
    if byteorder != sys.byteorder and dtype.itemsize > 1:
        arr = arr.byteswap()
    return arr.copy()


def _encode_key(key: Any, where: str) -> Any:
    if isinstance(key, tuple):
        return [_encode_key(k, where) for k in key]
    if isinstance(key, str | int):
        return key
    raise TypeError(
        f"{where} has a key {key!r} of type {type(key).__name__}; parameter trees "
        "in a checkpoint may use str, int or tuple keys"
    )


def _decode_key(key: Any) -> Any:
    return tuple(_decode_key(k) for k in key) if isinstance(key, list) else key


def _encode_tree(tree: Any, where: str = "params") -> dict[str, Any]:
    """Nested dicts, lists and tuples of arrays (or States) as tagged data."""
    if isinstance(tree, brainstate.State):
        return _encode_tree(tree.value, where)
    if isinstance(tree, dict):
        return {
            "tree": "dict",
            "keys": [_encode_key(k, where) for k in tree],
            "items": [_encode_tree(v, f"{where}[{k!r}]") for k, v in tree.items()],
        }
    if isinstance(tree, list | tuple) and not hasattr(tree, "_fields"):
        return {
            "tree": "list" if isinstance(tree, list) else "tuple",
            "items": [_encode_tree(v, f"{where}[{i}]") for i, v in enumerate(tree)],
        }
    if tree is None:
        return {"tree": "none"}
    if isinstance(tree, jax.Array | np.ndarray | np.generic | float | int | complex):
        return {"tree": "array", **_encode_array(tree, where)}
    raise TypeError(
        f"{where} is a {type(tree).__name__}; params must be nested dicts, lists "
        "and tuples of arrays or brainstate States"
    )


def _decode_tree(node: Any, byteorder: str, where: str = "params") -> Any:
    kind = node.get("tree") if isinstance(node, dict) else None
    if kind == "dict":
        keys = [_decode_key(k) for k in node["keys"]]
        return {
            k: _decode_tree(v, byteorder, f"{where}[{k!r}]")
            for k, v in zip(keys, node["items"], strict=True)
        }
    if kind in ("list", "tuple"):
        items = [
            _decode_tree(v, byteorder, f"{where}[{i}]")
            for i, v in enumerate(node["items"])
        ]
        return items if kind == "list" else tuple(items)
    if kind == "none":
        return None
    if kind == "array":
        record = {k: node[k] for k in ("dtype", "shape", "data") if k in node}
        return _decode_array(record, where, byteorder)
    raise ValueError(f"the checkpoint entry {where} is not a parameter tree")


def _values(tree: Any) -> Any:
    """``tree`` with each State replaced by its value."""
    return jax.tree.map(
        lambda x: x.value if isinstance(x, brainstate.State) else x,
        tree,
        is_leaf=lambda x: isinstance(x, brainstate.State),
    )


def _describe(x: Any) -> str:
    return f"{np.dtype(jnp.result_type(x)).name}{list(np.shape(x))}"


# -- what the optimizer holds -----------------------------------------------------


def _layout(optimizer: Optimizer) -> list[list[list[Any]]]:
    """Per group, per registered State: [key, [dtype-and-shape of each leaf]]."""
    return [
        [
            [
                path_str(optimizer._paths[i][0]),
                [
                    _describe(leaf)
                    for leaf in jax.tree.leaves(optimizer._states[i].value)
                ],
            ]
            for i in group.indices
        ]
        for group in optimizer.param_groups
    ]


def _keys(keys: list[str]) -> str:
    return ", ".join(keys[:5]) + (" ..." if len(keys) > 5 else "") if keys else "none"


def _check_layout(saved: list, mine: list) -> None:
    if len(saved) != len(mine):
        raise ValueError(
            f"the checkpoint has {len(saved)} parameter groups, this optimizer "
            f"{len(mine)}"
        )
    for g, (s_group, m_group) in enumerate(zip(saved, mine, strict=True)):
        s_map = {key: leaves for key, leaves in s_group}
        m_map = {key: leaves for key, leaves in m_group}
        missing = [k for k in s_map if k not in m_map]
        extra = [k for k in m_map if k not in s_map]
        if missing or extra:
            raise ValueError(
                f"parameter group {g} differs: the checkpoint has "
                f"{_keys(missing)} that this optimizer lacks, this optimizer has "
                f"{_keys(extra)} that the checkpoint lacks"
            )
        for key, s_leaves in s_map.items():
            if list(s_leaves) != list(m_map[key]):
                raise ValueError(
                    f"the parameter {key} is {s_leaves} in the checkpoint, "
                    f"{m_map[key]} here"
                )


def _check_params(saved: Any, template: Any) -> list[tuple[brainstate.State, Any]]:
    """Pairs each State of ``template`` with its saved value; raises on a mismatch."""
    saved_flat = {
        jax.tree_util.keystr(p): x
        for p, x in jax.tree_util.tree_flatten_with_path(saved)[0]
    }
    mine = jax.tree_util.tree_flatten_with_path(_values(template))[0]
    mine_keys = [jax.tree_util.keystr(p) for p, _ in mine]
    missing = [k for k in mine_keys if k not in saved_flat]
    extra = [k for k in saved_flat if k not in set(mine_keys)]
    if missing or extra:
        raise ValueError(
            f"the saved parameters differ in structure: {_keys(missing)} not in "
            f"the checkpoint, {_keys(extra)} only in the checkpoint"
        )
    for key, (_, ref) in zip(mine_keys, mine, strict=True):
        if _describe(saved_flat[key]) != _describe(ref):
            raise ValueError(
                f"the parameter {key} is {_describe(saved_flat[key])} in the "
                f"checkpoint, {_describe(ref)} here"
            )

    pairs = []
    is_state = lambda x: isinstance(x, brainstate.State)  # noqa: E731
    for path, leaf in jax.tree_util.tree_flatten_with_path(template, is_state)[0]:
        if not is_state(leaf):
            raise TypeError(
                f"params[{jax.tree_util.keystr(path)}] is a "
                f"{type(leaf).__name__}; load writes into brainstate States only"
            )
        prefix = jax.tree_util.keystr(path)
        treedef = jax.tree.structure(leaf.value)
        sub = jax.tree_util.tree_flatten_with_path(leaf.value)[0]
        new = [saved_flat[prefix + jax.tree_util.keystr(p)] for p, _ in sub]
        pairs.append((leaf, treedef.unflatten(new)))
    return pairs


# -- files ------------------------------------------------------------------------


def _write_atomic(path: str, data: bytes) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    tmp = f"{path}.tmp-{os.getpid()}-{threading.get_ident()}"
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    # The rename is durable only once the directory entry is on disk. Some
    # systems cannot open a directory; the file itself is complete either way.
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _unsupported(value: Any) -> Any:
    raise TypeError(
        f"a checkpoint cannot hold a {type(value).__name__} ({value!r}); "
        "hyperparameters and scheduler state must be numbers, strings, None, "
        "lists or dicts"
    )


def save(path: str | os.PathLike, optimizer: Optimizer, params: Any = None) -> None:
    """Writes the optimizer's state, and optionally parameters, to ``path``.

    Args:
        path: the file to write (its folder is created if needed); replaced
            atomically if it exists.
        optimizer: a registered brainoptim optimizer.
        params: optional parameter values to store with it: nested dicts, lists
            and tuples of arrays or brainstate States (e.g. the dict given to
            ``register_trainable_weights``). States are stored as their values.

    Raises:
        RuntimeError: if ``optimizer`` has no registered weights.
        TypeError: if a value cannot be stored (a dtype outside the supported
            list, a callable hyperparameter, a key that is not str, int or tuple).
    """
    if not isinstance(optimizer, Optimizer):
        raise TypeError(
            f"optimizer must be a brainoptim optimizer, got {type(optimizer).__name__}"
        )
    if not optimizer.param_groups:
        raise RuntimeError("call register_trainable_weights before saving")
    state = optimizer.state_dict()
    body = {
        "header": {
            "format": "brainoptim.checkpoint",
            "version": FORMAT_VERSION,
            "optimizer": state["optimizer"],
            "byteorder": sys.byteorder,
            "layout": _layout(optimizer),
            "has_params": params is not None,
        },
        "optimizer": {
            "step": state["step"],
            "nonfinite_steps": state["nonfinite_steps"],
            "param_groups": state["param_groups"],
            "scheduler": state["scheduler"],
            "state": [
                [key, _encode_array(x, f"optimizer state entry {key}")]
                for key, x in state["state"].items()
            ],
        },
        "params": None if params is None else _encode_tree(params),
    }
    payload = msgpack.packb(body, default=_unsupported, use_bin_type=True)
    digest = hashlib.sha256(payload).digest()
    _write_atomic(os.fspath(path), _MAGIC + digest + payload)


def _read(path: str) -> dict[str, Any]:
    with open(path, "rb") as f:
        data = f.read()
    if not data.startswith(_MAGIC):
        raise ValueError(f"{path} is not a brainoptim checkpoint")
    digest = data[len(_MAGIC) : len(_MAGIC) + _DIGEST]
    payload = data[len(_MAGIC) + _DIGEST :]
    if hashlib.sha256(payload).digest() != digest:
        raise ValueError(f"{path} is damaged or incomplete (its checksum differs)")
    body = msgpack.unpackb(payload, raw=False, use_list=True, strict_map_key=True)
    header = body.get("header") if isinstance(body, dict) else None
    if not isinstance(header, dict) or header.get("format") != "brainoptim.checkpoint":
        raise ValueError(f"{path} is not a brainoptim checkpoint")
    version = header.get("version")
    if not isinstance(version, int) or not 1 <= version <= FORMAT_VERSION:
        raise ValueError(
            f"{path} has checkpoint format version {version}; this brainoptim "
            f"reads versions 1 to {FORMAT_VERSION}"
        )
    return body


def load(
    path: str | os.PathLike, optimizer: Optimizer, params: Any = None
) -> Any | None:
    """Restores a checkpoint written by :func:`save` into ``optimizer``.

    ``optimizer`` must be of the same kind and registered with the same parameter
    keys, shapes and dtypes. Nothing is changed unless everything matches.

    Args:
        path: the checkpoint file.
        optimizer: a registered optimizer; its state, step count, group
            hyperparameters and scheduler position are replaced.
        params: optional States (nested like the ``params`` given to
            :func:`save`) into which the saved parameter values are written.

    Returns:
        The saved parameter values as NumPy arrays, nested as they were given to
        :func:`save`, or ``None`` if the checkpoint holds no parameters.

    Raises:
        ValueError: if the file is not a checkpoint, is damaged, or differs from
            ``optimizer`` (or ``params``); the message says what differs.
    """
    path = os.fspath(path)
    body = _read(path)
    header, saved = body["header"], body["optimizer"]
    kind = type(optimizer).__name__
    if header["optimizer"] != kind:
        raise ValueError(
            f"{path} holds the state of a {header['optimizer']} optimizer, "
            f"not of a {kind}"
        )
    if not optimizer.param_groups:
        raise RuntimeError("call register_trainable_weights before loading")
    _check_layout(header["layout"], _layout(optimizer))

    byteorder = header["byteorder"]
    values = None
    if body["params"] is not None:
        values = _decode_tree(body["params"], byteorder)
    pairs = []
    if params is not None:
        if values is None:
            raise ValueError(f"{path} holds no parameters to write into params")
        pairs = _check_params(values, params)

    state = {
        "optimizer": header["optimizer"],
        "step": saved["step"],
        "nonfinite_steps": saved["nonfinite_steps"],
        "param_groups": saved["param_groups"],
        "scheduler": saved["scheduler"],
        "state": {
            key: _decode_array(record, f"optimizer state entry {key}", byteorder)
            for key, record in saved["state"]
        },
    }
    optimizer.load_state_dict(state)
    for st, value in pairs:
        st.value = jax.tree.map(jnp.asarray, value)
    return values
