#!/bin/sh
# Install, from nothing, everything the build and the QEMU harness need on a
# Debian 12 host: toolchain, QEMU, busybox, iproute2, and the kernel images and
# headers of the test matrix (Debian's 6.1 line and the newest 6.12 line the
# mirror carries). Safe to run again; it only installs what is missing.
#
# Prints the matrix (one kernel release per line) to build/matrix, and
# the other Debian releases' kernels ("SUITE KVER") to build/releases.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
out=${BUILD:-$here/../../build}
export DEBIAN_FRONTEND=noninteractive

newest_612() {
	apt-cache search --names-only \
		'^linux-image-6\.12\.[0-9]+\+deb12-amd64-unsigned$' |
		awk '{print $1}' |
		sed 's/^linux-image-//; s/-unsigned$//' |
		sort -V | tail -n 1
}

sudo_() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

need_update=1
for f in /var/lib/apt/lists/*_Packages; do
	[ -e "$f" ] && [ -n "$(find "$f" -mmin -360)" ] && need_update=0
	break
done
[ "$need_update" -eq 1 ] && sudo_ apt-get update -qq

k612=$(newest_612)
[ -n "$k612" ] || { echo "setup: no linux-image-6.12.*+deb12-amd64-unsigned on the mirror" >&2; exit 1; }

pkgs="build-essential make gcc bc kmod cpio xz-utils zstd busybox-static
      qemu-system-x86 iproute2 iperf3 nftables sparse git
      dkms dh-dkms debhelper lintian openssl tcpdump tshark debootstrap curl
      shellcheck linux-source-6.1 linux-perf gnuplot-nox
      linux-image-amd64 linux-headers-amd64
      linux-image-$k612-unsigned linux-headers-$k612"

missing=
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
		missing="$missing $p"
done
if [ -n "$missing" ]; then
	echo "setup: installing$missing"
	# shellcheck disable=SC2086
	sudo_ apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

# checkpatch.pl (make lint) from the source tarball, which has no headers
# package of its own
src=/usr/src/linux-source-6.1
if [ ! -x "$src/scripts/checkpatch.pl" ]; then
	sudo_ tar -C /usr/src -xf "$src.tar.xz" linux-source-6.1/scripts
fi

# The 6.1 line: the release linux-image-amd64 depends on.
k61=$(dpkg-query -W -f='${Depends}' linux-image-amd64 |
	sed -n 's/.*linux-image-\(6\.1\.0-[0-9]*-amd64\).*/\1/p')
[ -n "$k61" ] || { echo "setup: cannot tell which 6.1 kernel linux-image-amd64 is" >&2; exit 1; }

mkdir -p "$out"
printf '%s\n%s\n' "$k61" "$k612" > "$out/matrix"
echo "setup: kernel matrix: $k61 $k612"

# libreswan for the guest (unpacked, not installed) and its libraries
"$here/../qemu/libreswan.sh" > /dev/null || echo "setup: libreswan unavailable: tests/guest/50-libreswan.sh will skip" >&2

# With RELEASES="bullseye trixie ..." (make check sets it): Debian's other
# releases, the newest kernel of each, with a chroot of the release whose
# compiler and dkms build the module for it (release-chroot.sh), as "SUITE
# KVER" lines in build/releases. A release the mirror lacks is skipped,
# saying so. The mirror here is a frozen copy whose sid Release file is
# past its Valid-Until date: its signature is still checked, its age is
# not (ALLOW_EXPIRED=0 to refuse).
[ -n "${RELEASES+set}" ] || exit 0
: > "$out/releases.tmp"
for suite in $RELEASES; do
	rc=0
	kver=$(ALLOW_EXPIRED=${ALLOW_EXPIRED:-1} "$here/release-chroot.sh" "$suite") || rc=$?
	if [ "$rc" = 0 ]; then
		echo "$suite $kver" >> "$out/releases.tmp"
	else
		echo "setup: $suite: skipped (release-chroot.sh exit $rc)" >&2
	fi
done
mv "$out/releases.tmp" "$out/releases"
echo "setup: releases: $(tr '\n' ' ' < "$out/releases")"
