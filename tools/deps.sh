#!/bin/sh
# deps.sh -- make sure the build dependencies (Debian packages) are present.
# As root on Debian it installs what is missing; otherwise it says in one
# line what to install and fails.
set -e
PKGS="nanopb libnanopb-dev protobuf-compiler python3-protobuf zlib1g-dev"
missing=""
[ -f /usr/include/pb.h ] && [ -f /usr/include/pb_decode.h ] || missing="$missing libnanopb-dev"
ls /usr/lib/*/libprotobuf-nanopb.a >/dev/null 2>&1 || missing="$missing libnanopb-dev"
[ -f /usr/include/zlib.h ] || missing="$missing zlib1g-dev"
ls /usr/lib/*/libz.a >/dev/null 2>&1 || missing="$missing zlib1g-dev"
if [ "${1:-}" = proto ]; then
    command -v protoc >/dev/null 2>&1 || missing="$missing protobuf-compiler"
    [ -x /usr/bin/nanopb_generator.py ] || missing="$missing nanopb"
    /usr/bin/python3 -c 'import google.protobuf' 2>/dev/null || missing="$missing python3-protobuf"
fi
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "deps: installing $PKGS" >&2
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $PKGS; } >/dev/null 2>&1 || {
        echo "deps: apt-get install failed; install: $PKGS" >&2; exit 1; }
    exit 0
fi
echo "deps: missing build dependencies; run: apt-get install $PKGS" >&2
exit 1
