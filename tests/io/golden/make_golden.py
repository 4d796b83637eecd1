"""Writes the golden .npy files the io tests read (run with numpy 1.24).

    /usr/bin/python3 tests/io/golden/make_golden.py

np.save's v1.0 bytes are the reference write_npy must reproduce exactly; the
other files exercise the reader: format versions 2.0 and 3.0, Fortran order,
and dtypes it must refuse.
"""
import os

import numpy as np
from numpy.lib import format as npformat

HERE = os.path.dirname(os.path.abspath(__file__))


def save(name, array, version=None):
    with open(os.path.join(HERE, name), "wb") as f:
        if version is None:
            np.save(f, array, allow_pickle=True)
        else:
            npformat.write_array(f, array, version=version)


save("f4_2x3.npy", np.array([[1.5, -2.25, 3.0], [4.0, 5e-3, -6.0]], dtype="<f4"))
save("f8_3.npy", np.array([0.1, -1e300, 2.5], dtype="<f8"))
save("u1_2x2x2.npy", np.arange(8, dtype="|u1").reshape(2, 2, 2) * 36)
save("i4_2x2.npy", np.array([[-1, 2**31 - 1], [-(2**31), 0]], dtype="<i4"))
save("i8_3.npy", np.array([-(2**62), 0, 2**40], dtype="<i8"))
save("f8_scalar.npy", np.array(3.5, dtype="<f8"))
save("f4_0x3.npy", np.zeros((0, 3), dtype="<f4"))
save("v2_f4_2x2.npy", np.array([[1, 2], [3, 4]], dtype="<f4"), version=(2, 0))
save("v3_f8_2.npy", np.array([-0.5, 0.25], dtype="<f8"), version=(3, 0))
save("fortran_f8_2x3.npy", np.asfortranarray(np.arange(6.0).reshape(2, 3)))
save("fortran_i4_2x3x4.npy", np.asfortranarray(np.arange(24, dtype="<i4").reshape(2, 3, 4)))
save("big_endian_f4.npy", np.array([1.0, 2.0], dtype=">f4"))
save("object.npy", np.array([1, "a"], dtype=object))
save("structured.npy", np.zeros(2, dtype=[("a", "<f4"), ("b", "<i4")]))
