"""safetensors_io.py - the safetensors writer shared by the make_golden_*.py scripts.

The format is coded by hand (8-byte little-endian header length, JSON header padded with spaces
to a multiple of 8, raw little-endian data) so that the scripts need only torch (1.13 here), not
the safetensors package. Each script imports it from its own directory:

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from safetensors_io import write_safetensors
"""
import json
import os
import struct

import numpy as np
import torch

DTYPES = {
    torch.float32: "F32",
    torch.float16: "F16",
    torch.bfloat16: "BF16",
    torch.float64: "F64",
    torch.int32: "I32",
    torch.int64: "I64",
}


def raw_bytes(t):
    """A torch tensor's values as little-endian bytes, row-major."""
    t = t.detach().contiguous().cpu()
    if t.dtype == torch.bfloat16:  # numpy has no bfloat16: reinterpret the 16-bit patterns
        t = t.view(torch.int16)
    a = t.numpy()
    return a.astype(a.dtype.newbyteorder("<")).tobytes()


def tensor_entry(t, keep_dtype):
    """(dtype name, shape, bytes) of a torch tensor or numpy array; F32 unless keep_dtype."""
    if isinstance(t, np.ndarray):
        a = np.ascontiguousarray(t, dtype="<f4")
        return "F32", list(a.shape), a.tobytes()
    t = t.detach()
    if not keep_dtype:
        t = t.to(torch.float32)
    return DTYPES[t.dtype], list(t.shape), raw_bytes(t)


def write_safetensors(path, tensors, metadata=None, data_order=None, metadata_last=False,
                      keep_dtype=False):
    """Writes tensors (name -> torch tensor or numpy array, in header order) to path, atomically.

    metadata: the "__metadata__" dict (strings), left out when empty; it comes first in the
    header, or last with metadata_last. data_order: the order of the data (names; default the
    header order). Values are written as F32 unless keep_dtype (then in their own dtype).
    Returns the size of the file in bytes."""
    entries = {name: tensor_entry(t, keep_dtype) for name, t in tensors.items()}
    data_order = data_order or list(tensors)
    blobs, offsets, pos = [], {}, 0
    for name in data_order:
        b = entries[name][2]
        offsets[name] = [pos, pos + len(b)]
        blobs.append(b)
        pos += len(b)
    header = {}
    if metadata and not metadata_last:
        header["__metadata__"] = metadata
    for name, (dtype, shape, _) in entries.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": offsets[name]}
    if metadata and metadata_last:
        header["__metadata__"] = metadata
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)  # the data starts 8-byte aligned
    with open(path + ".tmp", "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)
    os.replace(path + ".tmp", path)
    return 8 + len(text) + pos
