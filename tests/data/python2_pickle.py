"""Pickles as Python 2 writes them, for tests on a machine without Python 2.

``python2_pickle(obj)`` gives the bytes that Python 2's ``pickle.dumps(obj, 2)`` (the pure
Python pickler; cPickle writes the same opcodes, numbering its memo from 1) writes for ``obj``
with NumPy 1.x, where ``bytes`` stand for Python 2's ``str`` and ``str`` for ``unicode``:

- a Python 2 ``str`` (bytes) is SHORT_BINSTRING ``U`` + 1 length byte when shorter than 256
  bytes, else BINSTRING ``T`` + a 4-byte little-endian length, then the raw bytes. Python 3
  never writes these opcodes; it reads them as text in the ``encoding`` that ``pickle.load``
  is given (ASCII by default, so a byte above 127 fails);
- a ``unicode`` is BINUNICODE ``X`` (4-byte length, UTF-8);
- an int is BININT1 ``K`` (0..255), BININT2 ``M`` (..65535) or BININT ``J`` (signed 4 bytes);
  a float BINFLOAT ``G`` (8 bytes, big-endian); None ``N``; True and False NEWTRUE/NEWFALSE;
- a tuple of 1 to 3 items is its items then TUPLE1/2/3, a longer one MARK, items, TUPLE; the
  empty tuple EMPTY_TUPLE;
- a list is EMPTY_LIST, then one item and APPEND or MARK, the items and APPENDS; a dict
  EMPTY_DICT, then one pair and SETITEM or MARK, the pairs and SETITEMS, in batches of 1,000;
- every str, unicode, tuple, list, dict, global and reduced object is memoized with BINPUT
  ``q`` (LONG_BINPUT past 255) once written; one seen again (the same object: NumPy's dtype
  objects and Python 2's one-character strings are shared) is fetched with BINGET ``h``;
- a global is GLOBAL ``c`` + ``module\\nname\\n``;
- a NumPy array is what ``ndarray.__reduce__`` of NumPy 1.x gives on Python 2:
  ``numpy.core.multiarray._reconstruct`` applied to ``(numpy.ndarray, (0,), 'b')`` (REDUCE),
  then BUILD with the state ``(1, shape, dtype, False, data)``: ``data`` is the array's raw
  bytes as a Python 2 ``str``; the dtype is ``numpy.dtype`` applied to ``('f8', 0, 1)`` (its
  kind and size, and the ints 0 and 1) with BUILD state ``(3, '<', None, None, None, -1, -1,
  0)`` (``'|'`` for one-byte types).
"""

from __future__ import annotations

import struct
from typing import Any

import numpy as np


class Python2Pickler:
    """Writes one object as Python 2 does with protocol 2 (see the module docstring)."""

    def __init__(self) -> None:
        self.out = bytearray(b"\x80\x02")  # PROTO 2
        self.memo: dict[Any, int] = {}
        self.kept: list[Any] = []  # objects memoized by id stay alive, so no id is reused

    def dumps(self, obj: Any) -> bytes:
        self.save(obj)
        self.out += b"."  # STOP
        return bytes(self.out)

    def memoized(self, key: Any) -> bool:
        """Write BINGET and say True if ``key`` was memoized."""
        if key not in self.memo:
            return False
        index = self.memo[key]
        self.out += b"h" + bytes([index]) if index < 256 else b"j" + struct.pack("<I", index)
        return True

    def put(self, key: Any, obj: Any = None) -> None:
        self.kept.append(obj)
        index = self.memo[key] = len(self.memo)
        self.out += b"q" + bytes([index]) if index < 256 else b"r" + struct.pack("<I", index)

    def save(self, obj: Any) -> None:
        if obj is None:
            self.out += b"N"
        elif obj is True or obj is False:
            self.out += b"\x88" if obj else b"\x89"
        elif isinstance(obj, int):
            self.save_int(obj)
        elif isinstance(obj, float):
            self.out += b"G" + struct.pack(">d", obj)
        elif isinstance(obj, bytes):
            self.save_str(obj)
        elif isinstance(obj, str):
            if not self.memoized(("unicode", id(obj))):
                data = obj.encode("utf-8")
                self.out += b"X" + struct.pack("<I", len(data)) + data
                self.put(("unicode", id(obj)), obj)
        elif isinstance(obj, tuple):
            self.save_tuple(obj)
        elif isinstance(obj, list):
            self.save_list(obj)
        elif isinstance(obj, dict):
            self.save_dict(obj)
        elif isinstance(obj, np.ndarray):
            self.save_array(obj)
        else:
            raise TypeError(f"no Python 2 pickle of {type(obj).__name__} here")

    def save_int(self, value: int) -> None:
        if 0 <= value < 256:
            self.out += b"K" + bytes([value])
        elif 0 <= value < 65536:
            self.out += b"M" + struct.pack("<H", value)
        elif -(2**31) <= value < 2**31:
            self.out += b"J" + struct.pack("<i", value)
        else:
            raise ValueError(f"{value} needs a Python 2 long")

    def save_str(self, value: bytes, key: Any = None) -> None:
        """A Python 2 ``str``; one-character strings are shared objects in Python 2."""
        key = key or (("char", value) if len(value) == 1 else ("str", id(value)))
        if self.memoized(key):
            return
        if len(value) < 256:
            self.out += b"U" + bytes([len(value)]) + value
        else:
            self.out += b"T" + struct.pack("<i", len(value)) + value
        self.put(key, value)

    def save_global(self, module: str, name: str) -> None:
        key = ("global", module, name)
        if not self.memoized(key):
            self.out += b"c" + f"{module}\n{name}\n".encode("ascii")
            self.put(key)

    def save_tuple(self, items: tuple[Any, ...], key: Any = None) -> None:
        if not items:
            self.out += b")"
            return
        key = key or ("tuple", id(items))
        if self.memoized(key):
            return
        if len(items) <= 3:
            for item in items:
                self.save(item)
            self.out += {1: b"\x85", 2: b"\x86", 3: b"\x87"}[len(items)]
        else:
            self.out += b"("
            for item in items:
                self.save(item)
            self.out += b"t"
        self.put(key, items)

    def save_list(self, items: list[Any]) -> None:
        if self.memoized(("list", id(items))):
            return
        self.out += b"]"
        self.put(("list", id(items)), items)
        for start in range(0, len(items), 1000):
            batch = items[start : start + 1000]
            if len(batch) == 1:
                self.save(batch[0])
                self.out += b"a"
            else:
                self.out += b"("
                for item in batch:
                    self.save(item)
                self.out += b"e"

    def save_dict(self, mapping: dict[Any, Any]) -> None:
        if self.memoized(("dict", id(mapping))):
            return
        self.out += b"}"
        self.put(("dict", id(mapping)), mapping)
        pairs = list(mapping.items())
        for start in range(0, len(pairs), 1000):
            batch = pairs[start : start + 1000]
            if len(batch) == 1:
                self.save(batch[0][0])
                self.save(batch[0][1])
                self.out += b"s"
            else:
                self.out += b"("
                for key, value in batch:
                    self.save(key)
                    self.save(value)
                self.out += b"u"

    def save_dtype(self, dtype: np.dtype[Any]) -> None:
        """``numpy.dtype(kind + size, 0, 1)`` and its state; the dtype objects of NumPy's
        built-in types are shared, so a second array of one type fetches it from the memo."""
        if dtype.kind not in "biuf":
            raise TypeError(f"no Python 2 pickle of dtype {dtype} here")
        key = ("dtype", dtype.str)
        if self.memoized(key):
            return
        self.save_global("numpy", "dtype")
        self.save_tuple((f"{dtype.kind}{dtype.itemsize}".encode("ascii"), 0, 1), ("args", key))
        self.out += b"R"  # REDUCE
        self.put(key)
        order = b"|" if dtype.itemsize == 1 else b"<"
        self.save_tuple((3, order, None, None, None, -1, -1, 0), ("state", key))
        self.out += b"b"  # BUILD

    def save_array(self, array: np.ndarray) -> None:
        little = array.astype(array.dtype.newbyteorder("<"), order="C")
        self.save_global("numpy.core.multiarray", "_reconstruct")
        self.save_global("numpy", "ndarray")
        self.save_tuple((0,), ("shape0", id(array)))
        self.save_str(b"b")
        self.out += b"\x87"  # TUPLE3 of GLOBAL ndarray, (0,), 'b'
        self.put(("args", id(array)))
        self.out += b"R"  # REDUCE
        self.put(("array", id(array)), array)
        self.out += b"("  # MARK: the state (1, shape, dtype, is_fortran, data)
        self.save_int(1)
        self.save_tuple(tuple(int(n) for n in array.shape), ("shape", id(array)))
        self.save_dtype(little.dtype)
        self.out += b"\x89"  # is_fortran: False
        self.save_str(little.tobytes(), ("data", id(array)))
        self.out += b"t"
        self.put(("state", id(array)))
        self.out += b"b"  # BUILD


def python2_pickle(obj: Any) -> bytes:
    """The bytes Python 2 writes for ``obj`` with protocol 2 (``bytes`` are Python 2 ``str``,
    ``str`` are ``unicode``; NumPy arrays of numbers)."""
    return Python2Pickler().dumps(obj)
