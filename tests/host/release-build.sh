#!/bin/sh
# tests/host/release-build.sh SUITE [MAKE ARGS...]: build espintcp.ko and the
# guest's test modules (make module test-kmod) for the newest kernel of a
# Debian release, in that release's chroot (tests/host/release-chroot.sh),
# with its compiler and kbuild, and put the result where a build on the
# host would be: build/KVER/espintcp.ko, build/KVER/kmod/. Prints KVER.
# MAKE ARGS go to make (e.g. W=1). The kernel itself, for QEMU, is under
# /var/cache/espintcp/kernels/KVER (see release-chroot.sh).
#
# Exit status: release-chroot.sh's (3, 4, 5: the suite or its kernel is
# not there; skip it), 2 the build failed, 1 anything else.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
suite=${1:?usage: $0 SUITE [MAKE ARGS...]}
shift

rc=0
kver=$("$top/tests/host/release-chroot.sh" "$suite") || rc=$?
[ "$rc" = 0 ] || exit "$rc"
dir=${ESPINTCP_CACHE:-/var/cache/espintcp}/chroot/$suite

# the tracked tree, as make deb takes it
rm -rf "$dir/root/espintcp"
mkdir -p "$dir/root/espintcp"
git -C "$top" ls-files -z | (cd "$top" && xargs -0 cp --parents -t "$dir/root/espintcp")

log=$top/build/$kver.release-build.log
mkdir -p "$top/build"
echo "release-build: $suite: make module test-kmod KVER=$kver $* (log: $log)" >&2
if ! nice -n 19 "$top/tests/host/release-chroot.sh" --run "$suite" \
	make -C /root/espintcp KVER="$kver" "$@" module test-kmod > "$log" 2>&1; then
	tail -n 30 "$log" >&2
	exit 2
fi
rm -rf "$top/build/$kver"
cp -a "$dir/root/espintcp/build/$kver" "$top/build/$kver"
echo "$kver"
