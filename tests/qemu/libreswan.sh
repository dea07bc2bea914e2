#!/bin/sh
# tests/qemu/libreswan.sh [SUITE]: prints a directory holding Debian's
# libreswan for tests/qemu/mkinitramfs.sh to put pluto, whack, addconn and
# certutil into the guest (tests/guest/50-libreswan.sh). Nothing is started
# on this machine.
#
# Without SUITE, or with the host's own: the host's libreswan, unpacked
# (dpkg -x); the libraries it needs are installed on the host (apt), from
# where the initramfs takes them.
#
# With another release's SUITE (tests/host/release-chroot.sh): that release's
# libreswan, installed in its chroot, and copied out with every library it
# loads, the release's dynamic loader included, into a sysroot marked by a
# file named sysroot. The guest runs it through that loader, so the
# release's libreswan runs on its own C library whatever the host's is.
#
# Cached per suite and version under $ESPINTCP_CACHE (default
# /var/cache/espintcp)/libreswan/.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
cache=${ESPINTCP_CACHE:-/var/cache/espintcp}/libreswan
export DEBIAN_FRONTEND=noninteractive
say() { echo "libreswan.sh: $*" >&2; }

suite=${1:-}
. /etc/os-release
[ "$suite" != "${VERSION_CODENAME:-}" ] || suite=

candidate() { # apt-cache policy output on stdin
	sed -n 's/^ *Candidate: //p' | grep -v '^(none)$' || true
}

host_libreswan() {
	ver=$(apt-cache policy libreswan | candidate)
	[ -n "$ver" ] || { say "libreswan is not on the mirror"; exit 1; }
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
}

in_chroot() { "$top/tests/host/release-chroot.sh" --run "$suite" "$@"; }

# FILE (a path in the chroot) and every library it loads, into $tmp; the
# chroot resolves the symbolic links (some are absolute). A library ldd
# cannot find would come from the guest's own: that fails the copy.
copy_with_libs() {
	if in_chroot ldd "$1" | grep 'not found' >&2; then
		say "$suite: $1 needs a library its chroot lacks"
		exit 1
	fi
	# shellcheck disable=SC2016
	in_chroot sh -c 'for f in "$1" $(ldd "$1" | grep -o "/[^ ]*"); do
		echo "$f $(readlink -f "$f")"; done' sh "$1" |
	while read -r f real; do
		mkdir -p "$tmp$(dirname "$f")"
		[ -e "$tmp$f" ] || cp "$chroot$real" "$tmp$f"
	done
}

# apt-get install PACKAGES... in the chroot, bounded in time
chroot_install() {
	in_chroot timeout 900 apt-get -o Acquire::http::Timeout=30 \
		-o Acquire::Retries=2 install -y -qq "$@" > "$cache.$suite.log" 2>&1
}

release_libreswan() {
	chroot=${ESPINTCP_CACHE:-/var/cache/espintcp}/chroot/$suite
	[ -f "$chroot/.espintcp-ready" ] ||
		{ say "no $suite chroot (tests/host/release-chroot.sh $suite makes it)"; exit 1; }
	ver=$(in_chroot apt-cache policy libreswan | candidate)
	[ -n "$ver" ] || { say "$suite has no libreswan"; exit 1; }
	out=$cache/$suite-$ver
	if [ -f "$out/sysroot" ]; then
		echo "$out"
		return
	fi
	# the chroot's lock (release-chroot.sh, ref-kernel.sh): no other apt
	# in it, and no rebuild of it, while this installs and copies
	exec 9>"$chroot.lock"
	flock -w 1800 9 || { say "the $suite chroot stayed locked for 30 minutes"; exit 1; }
	if ! chroot_install "libreswan=$ver" libnss3-tools; then
		# a mirror whose security suite lists packages its pool lacks:
		# the release's own versions, without those updates
		if ! grep -q '^E: Failed to fetch' "$cache.$suite.log" ||
			! chroot_install -t "${suite%-backports}" libreswan libnss3-tools; then
			say "installing libreswan $ver in the $suite chroot failed: $(tail -n 3 "$cache.$suite.log" | tr '\n' ' ')"
			exit 1
		fi
		# shellcheck disable=SC2016
		ver=$(in_chroot dpkg-query -W -f '${Version}' libreswan)
		out=$cache/$suite-$ver
		say "$suite: some updates could not be fetched from the mirror; libreswan $ver"
		if [ -f "$out/sysroot" ]; then
			echo "$out"
			return
		fi
	fi
	tmp=$(mktemp -d "$out.XXXXXX")
	chmod 755 "$tmp"
	trap 'rm -rf "$tmp"' EXIT
	# the release's /usr merge, so that each library is where it is found
	for l in bin sbin lib lib64; do
		[ -L "$chroot/$l" ] || continue
		cp -P "$chroot/$l" "$tmp/$l"
		mkdir -p "$tmp/$(readlink "$tmp/$l")"
	done
	for b in pluto whack addconn; do
		copy_with_libs "/usr/libexec/ipsec/$b"
	done
	copy_with_libs /usr/bin/certutil
	# NSS dlopen()s its modules from where libnss3.so was loaded
	for f in $(in_chroot dpkg -L libnss3 | grep -E '\.(so|chk)$'); do
		case $f in
		*.so) copy_with_libs "$f" ;;
		*) mkdir -p "$tmp$(dirname "$f")"; cp "$chroot$(in_chroot readlink -f "$f")" "$tmp$f" ;;
		esac
	done
	in_chroot ldd /usr/libexec/ipsec/pluto |
		sed -n 's|^[[:space:]]*\(/[^ ]*ld-linux[^ ]*\) .*|\1|p' > "$tmp/loader"
	[ -s "$tmp/loader" ] || { say "$suite: no dynamic loader in ldd's view of pluto"; exit 1; }
	echo "$suite $ver" > "$tmp/sysroot"
	rm -rf "$out"
	mv "$tmp" "$out"
	echo "$out"
}

mkdir -p "$cache"
if [ -z "$suite" ]; then
	host_libreswan
else
	release_libreswan
fi
