#!/bin/bash
# Boot one kernel with only the given guest scripts, for working on a test:
#   tests/qemu/run-scripts.sh KVER tests/guest/30-esp.sh [more.sh ...]
# Rebuilds the module, the test programs and the initramfs first (as make
# check does), then adds the given scripts to the guest's and runs only
# them (scripts= on the kernel command line). A kernel of another Debian
# release (build/releases) gets the module its chroot builds. Results
# stream to stdout, the kernel console goes to build/qemu/KVER/console.log.
set -eu
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

k=$1
shift
NO_SETUP=1 setup
build_tests || die "make tests failed"
# as make check: sid's Release file on this mirror is past its date
export ALLOW_EXPIRED=${ALLOW_EXPIRED:-1}
suite=$(awk -v k="$k" '$2 == k { print $1 }' "$BUILD/releases" 2>/dev/null || true)
if [ -n "$suite" ]; then
	"$root/tests/host/release-build.sh" "$suite" > /dev/null ||
		die "building espintcp.ko in the $suite chroot failed"
	export KERNEL_IMAGE=$RELEASE_CACHE/kernels/$k/boot/vmlinuz-$k
	export MODROOT=$RELEASE_CACHE/kernels/$k
	export LIBRESWAN_SUITE=${LIBRESWAN_SUITE:-$suite}
else
	build_module "$k" || die "building espintcp.ko for $k failed"
	build_kmod "$k" || die "building the test modules for $k failed"
fi
initrd=$(initramfs "$k")
dir=$BUILD/qemu/$k
tmp=$(mktemp -d)
chmod 755 "$tmp"	# it becomes the guest's /
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && zcat "$initrd" | cpio -id --quiet 2>/dev/null)
# the others stay: a script may run another (33-async.sh runs 32-divert.sh)
cp "$@" "$tmp/tests/guest/"
(cd "$tmp" && find . | cpio -o -H newc -R 0:0 --quiet | gzip -1) > "$dir/scripts.cpio.gz"
names=$(for s in "$@"; do basename "$s"; done | paste -sd, -)
BOOT_ARGS="${BOOT_ARGS:-} scripts=$names" boot "$k" "$dir/scripts.cpio.gz" test "$dir/console.log"
