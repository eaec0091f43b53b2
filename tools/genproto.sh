#!/bin/sh
# genproto.sh OUT -- generate nanopb code and the JSON descriptor tables
# from proto/ into OUT (vendor/ for `make proto`).
set -e
out=$1
protos=$(cd proto && find . -name '*.proto' | sed 's|^\./||' | sort)
mkdir -p "$out"
log=$(mktemp)
tmp=$(mktemp)
trap 'rm -f "$log" "$tmp"' EXIT
# nanopb warns for every submessage of unknown size (they are callbacks by
# design here); keep its other output.
if ! nanopb_generator.py -q -Iproto -D "$out" $protos >"$log" 2>&1; then
    cat "$log" >&2; exit 1
fi
grep -v 'Could not determine size' "$log" >&2 || true
(cd proto && protoc -I. --include_imports --descriptor_set_out="$tmp" $protos)
/usr/bin/python3 tools/gen_desc.py "$tmp" "$out/pbdesc.c" "$out/pbdesc.h"
