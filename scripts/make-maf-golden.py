#!/usr/bin/python3
"""Writes tests/data/golden/maf: small POWER and GAS inputs in the archive's
formats and what the MAF preprocessing makes of them, computed with NumPy and
pandas (Debian's python3-numpy 1.24 / python3-pandas 1.5.3 / bottleneck).

  power/power/data.npy        1000 x 8 float64, fixed seed
  power/expected/             train/val/test/mean/std .npy, columns.json
  gas*/gas/ethylene_CO.*      a 500-row frame with the ethylene_CO columns,
                              pickled by pandas and run through
                              scripts/convert-gas-pickle.py
  gas*/expected/              train/val/test/mean/std .npy, corr.npy (pandas'
                              first correlation matrix), columns.json

Three GAS cases: "gas" (each column stored contiguously, unique names, pandas
with bottleneck), "gas_rowmajor" (rows stored contiguously, duplicate sensor
names as in the sensor-type listing) and "gas_nobottleneck" (as "gas", with
pandas' bottleneck use switched off). The reference pipelines below restate
the MAF loaders (datasets/power.py and datasets/gas.py) step by step.

usage: scripts/make-maf-golden.py [OUT_DIR]
"""

import importlib.util
import json
import os
import shutil
import sys
import tempfile

import numpy as np
import pandas as pd

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
POWER_ROWS = 1000
GAS_ROWS = 500
SENSOR_TYPES = ["TGS2602", "TGS2602", "TGS2600", "TGS2600", "TGS2610", "TGS2610",
                "TGS2620", "TGS2620"] * 2
# With duplicate names a drop removes every column of that name; this order
# puts the near copies under different names so the loop still runs 3 times.
TYPED_ORDER = [0, 3, 1, 4, 2, 5, 7, 6, 9, 10, 11, 12, 8, 13, 14, 15]


def load_converter():
    path = os.path.join(REPO, "scripts", "convert-gas-pickle.py")
    spec = importlib.util.spec_from_file_location("convert_gas_pickle", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def split_like_maf(data):
    n_test = int(0.1 * data.shape[0])
    test = data[-n_test:]
    data = data[0:-n_test]
    n_val = int(0.1 * data.shape[0])
    return data[0:-n_val], data[-n_val:], test


def reference_power(path):
    """MAF's POWER: shuffle, drop columns 3 and 1, noise, split, normalise."""
    rng = np.random.RandomState(42)
    data = np.load(path)
    rng.shuffle(data)
    n = data.shape[0]
    data = np.delete(data, 3, axis=1)
    data = np.delete(data, 1, axis=1)
    voltage_noise = 0.01 * rng.rand(n, 1)
    gap_noise = 0.001 * rng.rand(n, 1)
    sm_noise = rng.rand(n, 3)
    time_noise = np.zeros((n, 1))
    data = data + np.hstack((gap_noise, voltage_noise, sm_noise, time_noise))
    train, val, test = split_like_maf(data)
    fit = np.vstack((train, val))
    mu = fit.mean(axis=0)
    s = fit.std(axis=0)
    return {"train": (train - mu) / s, "val": (val - mu) / s, "test": (test - mu) / s,
            "mean": mu, "std": s}


def reference_gas(pickle_path):
    """MAF's GAS: drop Meth/Eth/Time, drop correlated columns, normalise, split."""
    data = pd.read_pickle(pickle_path)
    data.drop("Meth", axis=1, inplace=True)
    data.drop("Eth", axis=1, inplace=True)
    data.drop("Time", axis=1, inplace=True)
    first_corr = data.corr().to_numpy()
    counts = (data.corr() > 0.98).to_numpy().sum(axis=1)
    n_drops = 0
    while np.any(counts > 1):
        name = data.columns[np.where(counts > 1)[0][0]]
        data.drop(name, axis=1, inplace=True)
        counts = (data.corr() > 0.98).to_numpy().sum(axis=1)
        n_drops += 1
    mu, s = data.mean(), data.std()
    values = ((data - mu) / s).to_numpy()
    train, val, test = split_like_maf(values)
    return {"train": train, "val": val, "test": test, "mean": mu.to_numpy(),
            "std": s.to_numpy(), "corr": first_corr}, list(data.columns), n_drops


def power_input():
    """Positive readings on the scales of the real columns, time of day last."""
    rng = np.random.RandomState(20240601)
    scale = np.array([1.0, 0.1, 240.0, 5.0, 1.0, 1.0, 10.0, 1440.0])
    x = rng.rand(POWER_ROWS, 8) * scale
    x[:, 7] = np.floor(x[:, 7])
    x[:, 2] += 230.0
    return x


def gas_input(sensor_order=range(16)):
    """Time, Meth, Eth and 16 sensors (in sensor_order); groups of nearly
    collinear sensors make the dropping loop run several times; one pair is
    anti-correlated (kept: the test is signed) and one pair sits just under the
    0.98 limit."""
    rng = np.random.RandomState(20240602)
    n = GAS_ROWS
    base = rng.standard_normal((n, 6))
    noise = rng.standard_normal((n, 16))
    s = np.empty((n, 16))
    s[:, 0:3] = base[:, [0]] + 0.05 * noise[:, 0:3]   # three near copies
    s[:, 3] = base[:, 1]
    s[:, 4] = -base[:, 1] + 0.05 * noise[:, 4]        # corr ~ -0.999
    s[:, 5] = base[:, 2]
    s[:, 6] = base[:, 2] + 0.22 * noise[:, 6]         # corr ~ 0.977, under the limit
    s[:, 7] = base[:, 3]
    s[:, 8] = base[:, 3] + 0.05 * noise[:, 8]
    s[:, 9:16] = noise[:, 9:16] + 0.3 * base[:, [4]]
    s = 500.0 + s * (10.0 + 100.0 * rng.rand(16))    # sensor-like magnitudes
    time = np.arange(n) * 0.01
    meth = np.floor(rng.rand(n) * 4) * 50.0
    eth = np.floor(rng.rand(n) * 4) * 5.0
    return np.column_stack([time, meth, eth, s[:, list(sensor_order)]])


def gas_frame(values, names, column_major):
    if column_major:
        # One contiguous array per column, as read_csv builds a frame.
        frame = pd.DataFrame(np.asfortranarray(values))
    else:
        # The rows of a C-order array, as DataFrame(array) keeps it.
        frame = pd.DataFrame(np.ascontiguousarray(values))
    frame.columns = names
    return frame


def save_expected(out, result, columns):
    os.makedirs(out, exist_ok=True)
    for key, value in result.items():
        np.save(os.path.join(out, key + ".npy"), np.ascontiguousarray(value, dtype=np.float64))
    with open(os.path.join(out, "columns.json"), "w") as f:
        json.dump(columns, f)
        f.write("\n")


def make_power(root):
    os.makedirs(os.path.join(root, "power", "power"), exist_ok=True)
    path = os.path.join(root, "power", "power", "data.npy")
    np.save(path, power_input())
    names = ["global_active_power", "voltage", "sub_metering_1", "sub_metering_2",
             "sub_metering_3", "time"]
    save_expected(os.path.join(root, "power", "expected"), reference_power(path), names)


def make_gas(root, case, names, order, column_major, keep_pickle, converter):
    gas_dir = os.path.join(root, case, "gas")
    os.makedirs(gas_dir, exist_ok=True)
    scratch = tempfile.mkdtemp()
    pickle_path = os.path.join(keep_pickle and gas_dir or scratch, "ethylene_CO.pickle")
    frame = gas_frame(gas_input(order), names, column_major)
    frame.to_pickle(pickle_path)
    converter.convert(pickle_path, gas_dir)
    result, kept, n_drops = reference_gas(pickle_path)
    shutil.rmtree(scratch)
    if n_drops < 2:
        sys.exit(f"make-maf-golden: {case}: the dropping loop ran {n_drops} times, want >= 2")
    save_expected(os.path.join(root, case, "expected"), result, kept)
    print(f"{case}: kept {kept} after {n_drops} drops")


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(REPO, "tests", "data", "golden",
                                                              "maf")
    converter = load_converter()
    make_power(root)
    print("power:", POWER_ROWS, "rows")
    unique = ["Time", "Meth", "Eth"] + [f"S{i + 1}" for i in range(16)]
    typed = ["Time", "Meth", "Eth"] + SENSOR_TYPES
    make_gas(root, "gas", unique, range(16), True, True, converter)
    make_gas(root, "gas_rowmajor", typed, TYPED_ORDER, False, False, converter)
    pd.set_option("compute.use_bottleneck", False)
    make_gas(root, "gas_nobottleneck", unique, range(16), True, False, converter)


if __name__ == "__main__":
    main()
