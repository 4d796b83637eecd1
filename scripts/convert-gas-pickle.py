#!/usr/bin/python3
"""Converts the MAF archive's GAS table (a pandas pickle) for flowmatch.

The archive ships data/gas/ethylene_CO.pickle, a pandas DataFrame written by an
old pandas. flowmatch's C++ loader never reads pickles; run this once to write,
next to the pickle (or into --out-dir):

  ethylene_CO.npy           float64 (N, K), C order, the frame's columns in order
  ethylene_CO.columns.json  column names in order, plus how the reference's
                            pandas adds up each column (see docs/tabular.md)

usage: scripts/convert-gas-pickle.py [PICKLE] [--out-dir DIR] [--expect-rows N]
PICKLE defaults to data/gas/ethylene_CO.pickle under the repository.
Needs numpy and pandas: Debian's python3-pandas (hence /usr/bin/python3).
"""

import argparse
import json
import os
import pickle
import sys
import tempfile

FORMAT_VERSION = 1
REQUIRED_COLUMNS = ("Time", "Meth", "Eth")
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def fail(message):
    sys.exit("convert-gas-pickle: error: " + message)


try:
    import numpy as np
    import pandas as pd
except ImportError as e:
    fail(f"{e}; this script needs numpy and pandas (Debian: apt-get install python3-pandas, "
         "then run it with /usr/bin/python3)")


def read_frame(path):
    """pd.read_pickle, falling back to shims for the old pandas that wrote the archive."""
    try:
        return pd.read_pickle(path)
    except (ImportError, AttributeError, TypeError):
        pass
    # NOTE: pandas >= 2 no longer knows the module and index classes the
    # archive's pickle names; map them onto today's equivalents.
    import pandas.core.indexes.base as index_base
    sys.modules.setdefault("pandas.core.index", index_base)
    for name in ("Int64Index", "UInt64Index", "Float64Index"):
        if not hasattr(index_base, name):
            setattr(index_base, name, pd.Index)
    with open(path, "rb") as f:
        return pickle.load(f, encoding="latin1")


def column_summation(frame):
    """How pandas (with numpy's reductions) adds up each column for mean and std.

    DataFrame.mean() reduces each float block, stored as (columns, rows), along
    its rows: numpy sums a contiguous run pairwise, a strided one term by term.
    DataFrame.std() goes through bottleneck when pandas uses it (term by term,
    two passes) and otherwise through numpy in the mean's order.
    """
    from pandas.core import nanops

    manager = frame._mgr
    mean_orders = []
    for position in range(frame.shape[1]):
        values = np.asarray(manager.blocks[manager.blknos[position]].values)
        if values.dtype != np.float64:
            fail(f"column {frame.columns[position]!r} has dtype {values.dtype}; "
                 "the archive's GAS table is float64")
        contiguous = values.ndim == 2 and values.strides[1] == values.itemsize
        mean_orders.append("pairwise" if contiguous else "sequential")
    std_orders = ["sequential"] * len(mean_orders) if nanops._USE_BOTTLENECK else mean_orders
    return mean_orders, std_orders


def versions():
    try:
        import bottleneck
        bottleneck_version = bottleneck.__version__
    except ImportError:
        bottleneck_version = None
    from pandas.core import nanops
    return {"numpy": np.__version__, "pandas": pd.__version__, "bottleneck": bottleneck_version,
            "pandas_uses_bottleneck": bool(nanops._USE_BOTTLENECK)}


def check_frame(frame, path, expect_rows):
    if not isinstance(frame, pd.DataFrame):
        fail(f"{path} holds a {type(frame).__name__}, expected a pandas DataFrame")
    names = [str(c) for c in frame.columns]
    missing = [c for c in REQUIRED_COLUMNS if c not in names]
    if missing:
        fail(f"{path} has columns {names}; GAS needs {', '.join(missing)} "
             "(the MAF archive's ethylene_CO table: Time, Meth, Eth and 16 sensors)")
    if expect_rows is not None and frame.shape[0] != expect_rows:
        fail(f"{path} has {frame.shape[0]} rows, expected {expect_rows} "
             "(the archive may be incomplete; run scripts/fetch-tabular-data.sh again)")
    return names


def write_atomically(path, write):
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=os.path.basename(path))
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp's 0600 would be a surprise for data files
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def convert(pickle_path, out_dir, expect_rows=None):
    """Writes ethylene_CO.npy and ethylene_CO.columns.json; returns their paths."""
    if not os.path.exists(pickle_path):
        fail(f"{pickle_path} not found; run scripts/fetch-tabular-data.sh first")
    try:
        frame = read_frame(pickle_path)
    except Exception as e:  # a truncated or foreign file fails in many ways
        fail(f"cannot unpickle {pickle_path}: {type(e).__name__}: {e}")
    names = check_frame(frame, pickle_path, expect_rows)
    mean_orders, std_orders = column_summation(frame)
    values = np.ascontiguousarray(frame.to_numpy(dtype=np.float64))

    os.makedirs(out_dir, exist_ok=True)
    npy_path = os.path.join(out_dir, "ethylene_CO.npy")
    json_path = os.path.join(out_dir, "ethylene_CO.columns.json")
    meta = {
        "format_version": FORMAT_VERSION,
        "source": os.path.basename(pickle_path),
        "rows": int(values.shape[0]),
        "columns": names,
        "summation": {"mean": mean_orders, "std": std_orders},
        "converted_with": versions(),
    }
    write_atomically(npy_path, lambda f: np.save(f, values))
    write_atomically(json_path, lambda f: f.write((json.dumps(meta, indent=1) + "\n").encode()))
    return npy_path, json_path


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("pickle", nargs="?",
                        default=os.path.join(REPO, "data", "gas", "ethylene_CO.pickle"))
    parser.add_argument("--out-dir", help="where to write (default: beside the pickle)")
    parser.add_argument("--expect-rows", type=int, help="fail unless the table has N rows")
    args = parser.parse_args()
    out_dir = args.out_dir or os.path.dirname(os.path.abspath(args.pickle))
    npy_path, json_path = convert(args.pickle, out_dir, args.expect_rows)
    print(f"convert-gas-pickle: wrote {npy_path} and {json_path}")


if __name__ == "__main__":
    main()
