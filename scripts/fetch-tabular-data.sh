#!/usr/bin/env bash
# Fetches POWER and GAS from the MAF data archive (Papamakarios et al. 2017,
# Zenodo record 1161203, data.tar.gz), checks them and converts GAS's pandas
# pickle for the C++ loader. Afterwards DATA_DIR holds
#   power/data.npy                 float64, 2049280 x 8
#   gas/ethylene_CO.pickle         pandas DataFrame, 1052065 x 19
#   gas/ethylene_CO.npy            float64 copy of the pickle's table
#   gas/ethylene_CO.columns.json   its column names (scripts/convert-gas-pickle.py)
#
# usage: scripts/fetch-tabular-data.sh [DATA_DIR]     (default: data/ in the repository)
#
# Environment:
#   FM_TABULAR_ARCHIVE  path of a data.tar.gz downloaded elsewhere: skips the download
#   FM_TABULAR_URL      where to download from (default: the Zenodo record)
#   FM_POWER_ROWS       rows data.npy must have (default 2049280)
#   FM_GAS_ROWS         rows the GAS table must have (default 1052065)
#   FM_PYTHON           Python with numpy and pandas (default /usr/bin/python3)
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
data_dir="${1:-$repo/data}"
url="${FM_TABULAR_URL:-https://zenodo.org/record/1161203/files/data.tar.gz}"
power_rows="${FM_POWER_ROWS:-2049280}"
gas_rows="${FM_GAS_ROWS:-1052065}"
python="${FM_PYTHON:-/usr/bin/python3}"
scratch=""  # extraction folder, removed on exit

say() { echo "fetch-tabular-data: $*" >&2; }
die() {
  say "error: $*"
  exit 1
}

# Downloads the archive to $1 (via a .part file, so an interrupted download
# is never mistaken for a complete one).
download() {
  local target="$1" part="$1.part" log
  say "downloading $url (all five MAF datasets: a large file) ..."
  if command -v curl > /dev/null; then
    log="$(curl --fail --location --retry 2 --connect-timeout 30 -sS -o "$part" "$url" 2>&1)" ||
      { rm -f "$part"; download_failed "$log"; }
  elif command -v wget > /dev/null; then
    log="$(wget -q --tries=2 --timeout=30 -O "$part" "$url" 2>&1)" ||
      { rm -f "$part"; download_failed "${log:-wget failed}"; }
  else
    die "neither curl nor wget is installed; install one, or download $url elsewhere" \
      "and run: FM_TABULAR_ARCHIVE=/path/to/data.tar.gz $0"
  fi
  mv "$part" "$target"
}

download_failed() {
  die "cannot download $url: $1
  Check this machine's internet access (and proxy settings). Without it, download
  data.tar.gz from Zenodo record 1161203 on another machine, copy it here and run:
    FM_TABULAR_ARCHIVE=/path/to/data.tar.gz $0 $data_dir"
}

# Checks that $1 is a little-endian float64 .npy of shape ($3, $4), header and
# size; $2 names it in messages.
check_npy() {
  "$python" - "$1" "$2" "$3" "$4" << 'EOF' || exit 1
import ast, os, sys
path, name, rows, cols = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
def fail(why):
    sys.exit(f"fetch-tabular-data: error: {name}: {why}")
with open(path, "rb") as f:
    head = f.read(12)
    if len(head) < 10 or head[:6] != b"\x93NUMPY":
        fail("not a .npy file (bad magic); the archive may be corrupted")
    width = 2 if head[6] == 1 else 4
    size = int.from_bytes(head[8:8 + width], "little")
    f.seek(8 + width)
    header = ast.literal_eval(f.read(size).decode("latin1"))
offset = 8 + width + size
if header["descr"] != "<f8" or header["fortran_order"]:
    fail(f"dtype {header['descr']}, fortran_order={header['fortran_order']}; expected '<f8', C order")
if tuple(header["shape"]) != (rows, cols):
    fail(f"shape {tuple(header['shape'])}, expected ({rows}, {cols})")
if os.path.getsize(path) != offset + rows * cols * 8:
    fail(f"{os.path.getsize(path)} bytes, expected {offset + rows * cols * 8}: truncated download?")
EOF
}

main() {
  mkdir -p "$data_dir"
  local archive="${FM_TABULAR_ARCHIVE:-}"
  if [[ -n "$archive" ]]; then
    [[ -f "$archive" ]] || die "FM_TABULAR_ARCHIVE=$archive: no such file"
  else
    archive="$data_dir/data.tar.gz"
    if [[ -f "$archive" ]]; then say "using the archive already at $archive"; else download "$archive"; fi
  fi

  # Extract only POWER and GAS into a scratch folder; move them in once checked.
  scratch="$(mktemp -d "$data_dir/.extract.XXXXXX")"
  trap 'rm -rf "$scratch"' EXIT
  say "extracting power and gas from $archive ..."
  tar -xzf "$archive" -C "$scratch" data/power/data.npy data/gas/ethylene_CO.pickle 2> "$scratch/tar.log" ||
    die "cannot extract data/power/data.npy and data/gas/ethylene_CO.pickle from $archive:
$(head -c 600 "$scratch/tar.log" | sed 's/^/    /')
  The archive is incomplete or not the MAF data.tar.gz; delete it and run $0 again."

  check_npy "$scratch/data/power/data.npy" "data/power/data.npy in $archive" "$power_rows" 8
  mkdir -p "$data_dir/power" "$data_dir/gas"
  mv "$scratch/data/power/data.npy" "$data_dir/power/data.npy"
  mv "$scratch/data/gas/ethylene_CO.pickle" "$data_dir/gas/ethylene_CO.pickle"
  say "power/data.npy: float64 ($power_rows, 8), ok"

  [[ -x "$python" ]] || die "$python not found; GAS needs Python with numpy and pandas" \
    "(Debian: apt-get install python3-pandas), then run scripts/convert-gas-pickle.py"
  "$python" "$repo/scripts/convert-gas-pickle.py" "$data_dir/gas/ethylene_CO.pickle" \
    --expect-rows "$gas_rows" || die "converting the GAS pickle failed (see above)"
  say "done: POWER and GAS are in $data_dir"
}

main
