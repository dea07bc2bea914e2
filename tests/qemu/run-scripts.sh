#!/bin/bash
# Boot one kernel with only the given guest scripts, for working on a test:
#   tests/qemu/run-scripts.sh KVER tests/guest/30-esp.sh [more.sh ...]
# Rebuilds the module, the test programs and the initramfs first (as make
# check does), then swaps the guest scripts. Results stream to stdout, the
# kernel console goes to build/qemu/KVER/console.log.
set -eu
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

k=$1
shift
NO_SETUP=1 setup
build_tests || die "make tests failed"
build_module "$k" || die "building espintcp.ko for $k failed"
build_kmod "$k" || die "building the test modules for $k failed"
initrd=$(initramfs "$k")
dir=$BUILD/qemu/$k
tmp=$(mktemp -d)
chmod 755 "$tmp"	# it becomes the guest's /
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && zcat "$initrd" | cpio -id --quiet 2>/dev/null)
rm -f "$tmp"/tests/guest/*
cp "$@" "$tmp/tests/guest/"
(cd "$tmp" && find . | cpio -o -H newc -R 0:0 --quiet | gzip -1) > "$dir/scripts.cpio.gz"
boot "$k" "$dir/scripts.cpio.gz" test "$dir/console.log"
