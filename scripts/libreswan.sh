#!/bin/sh
# scripts/libreswan.sh: prints a directory holding Debian's libreswan,
# unpacked (dpkg -x, not installed: nothing starts on this machine), for
# tests/qemu/mkinitramfs.sh to copy pluto, whack and addconn into the guest.
# The libraries they need are installed on the host (apt), from where the
# initramfs takes them. Cached per version under
# $ESPINTCP_CACHE (default /var/cache/espintcp)/libreswan/.
set -eu
cache=${ESPINTCP_CACHE:-/var/cache/espintcp}/libreswan
export DEBIAN_FRONTEND=noninteractive

ver=$(apt-cache policy libreswan | sed -n 's/^ *Candidate: //p')
if [ -z "$ver" ] || [ "$ver" = "(none)" ]; then
	echo "libreswan: not on the mirror" >&2
	exit 1
fi
out=$cache/$ver
if [ ! -x "$out/usr/libexec/ipsec/pluto" ]; then
	tmp=$(mktemp -d)
	chmod 755 "$tmp"	# apt downloads as _apt
	(cd "$tmp" && apt-get download -qq "libreswan=$ver") >&2
	# its run-time libraries, and certutil for the NSS databases
	deps=$(dpkg-deb -f "$tmp"/libreswan_*.deb Depends | tr ',' '\n' |
		sed -n 's/^ *\(lib[^ |]*\).*/\1/p')
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $deps >/dev/null
	rm -rf "$out"
	mkdir -p "$out"
	dpkg -x "$tmp"/libreswan_*.deb "$out"
	rm -rf "$tmp"
fi
echo "$out"
