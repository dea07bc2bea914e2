#!/bin/sh
# tests/host/release-chroot.sh SUITE: a minimal chroot of a Debian release with
# that release's compiler, dkms and the headers of its newest stock amd64
# kernel, for building the module where a Debian 12 host cannot (newer
# releases' kbuild tools and compilers do not run on it). Prints the chosen
# kernel release (KVER) on stdout.
#
# SUITE: bullseye (with bullseye-security), bookworm, trixie (with
# trixie-security), trixie-backports (a trixie chroot with backports added:
# the backports kernel line), sid. The kernel is the newest
# linux-headers-<release>-amd64 of the suite's package lists at run time.
#
# Cached under $ESPINTCP_CACHE (default /var/cache/espintcp):
#   chroot/SUITE/                the chroot (debootstrap --variant=minbase)
#   kernels/KVER/boot/vmlinuz-KVER, kernels/KVER/lib/modules/KVER/
#                                that kernel's image package, unpacked,
#                                depmod'ed (MODROOT for tests/qemu)
# A chroot is made again when older than 7 days or when its package lists
# cannot be updated.
#
# release-chroot.sh --run SUITE CMD...: run CMD in the (existing) chroot,
# with /proc mounted.
#
# Exit status: 0 done; 3 the suite is not on the mirror (or the mirror is
# unreachable); 4 the suite has no amd64 kernel headers; 5 the mirror's
# Release file for it has expired (see ALLOW_EXPIRED); 1 anything else.
# Network steps run under timeouts. Package installation runs niced.
set -eu

mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
security=${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
cache=${ESPINTCP_CACHE:-/var/cache/espintcp}
max_age_days=7
apt_opts="-o Acquire::http::Timeout=30 -o Acquire::Retries=2 -o APT::Get::List-Cleanup=1"
# A mirror that is a frozen copy serves Release files past their Valid-Until
# date, which apt refuses (they could be replayed): ALLOW_EXPIRED=1 takes
# them anyway.
if [ "${ALLOW_EXPIRED:-0}" = 1 ]; then
	apt_opts="$apt_opts -o Acquire::Check-Valid-Until=false"
fi
export DEBIAN_FRONTEND=noninteractive LC_ALL=C

say() { echo "release-chroot: $*" >&2; }
usage() { say "usage: $0 SUITE | --run SUITE CMD..."; exit 1; }

run=0
if [ "${1:-}" = --run ]; then
	run=1
	shift
fi
suite=${1:-}
[ -n "$suite" ] || usage
shift

case $suite in
bullseye | bookworm | trixie | sid) base=$suite ;;
trixie-backports) base=trixie ;;
*) say "unknown suite $suite (bullseye, bookworm, trixie, trixie-backports, sid)"; exit 1 ;;
esac
dir=$cache/chroot/$suite

# CMD... in the chroot, /proc mounted for its duration (unless it was)
in_chroot() {
	mounted=0
	if ! mountpoint -q "$dir/proc"; then
		mount -t proc proc "$dir/proc"
		mounted=1
	fi
	rc=0
	chroot "$dir" "$@" || rc=$?
	[ "$mounted" = 0 ] || umount "$dir/proc" 2>/dev/null || true
	return "$rc"
}

if [ "$run" = 1 ]; then
	[ -f "$dir/.espintcp-ready" ] || { say "no chroot for $suite: run $0 $suite first"; exit 1; }
	in_chroot "$@"
	exit
fi

[ "$(id -u)" = 0 ] || { say "must run as root (debootstrap, chroot)"; exit 1; }

mkdir -p "$cache/chroot" "$cache/kernels"
# one caller per suite at a time
exec 9>"$cache/chroot/$suite.lock"
flock 9

sources() {
	echo "deb $mirror $base main"
	case $base in
	bullseye) echo "deb $security bullseye-security main" ;;
	bookworm | trixie) echo "deb $security $base-security main"
		echo "deb $mirror $base-updates main" ;;
	esac
	[ "$suite" = trixie-backports ] && echo "deb $mirror trixie-backports main"
	return 0
}

suite_on_mirror() { # SUITE [MIRROR]
	timeout 60 curl -fsI --connect-timeout 20 \
		"${2:-$mirror}/dists/$1/InRelease" > /dev/null
}

apt_update() {
	# shellcheck disable=SC2086
	timeout 600 chroot "$dir" apt-get $apt_opts -qq update > "$dir.update.log" 2>&1 &&
		! grep -qE '^(W|E): (Failed|Some index files)' "$dir.update.log"
}

remove_chroot() {
	umount "$dir/proc" 2>/dev/null || true
	if findmnt -rn -o TARGET | grep -qF "$dir/"; then
		say "something is mounted under $dir: not removing it"
		exit 1
	fi
	rm -rf --one-file-system "$dir"
}

make_chroot() {
	remove_chroot
	say "debootstrap $base into $dir (minbase)"
	t0=$(date +%s)
	if ! timeout 1800 nice -n 19 debootstrap --variant=minbase "$base" "$dir" "$mirror" \
		> "$dir.debootstrap.log" 2>&1; then
		say "debootstrap $base failed: $(tail -n 3 "$dir.debootstrap.log" | tr '\n' ' ')"
		remove_chroot
		exit 1
	fi
	sources > "$dir/etc/apt/sources.list"
	printf '#!/bin/sh\nexit 101\n' > "$dir/usr/sbin/policy-rc.d"
	chmod 755 "$dir/usr/sbin/policy-rc.d"
	echo 'APT::Install-Recommends "false";' > "$dir/etc/apt/apt.conf.d/90espintcp"
	cp /etc/resolv.conf "$dir/etc/resolv.conf" 2>/dev/null || true
	if ! apt_update; then
		if grep -q 'is expired' "$dir.update.log"; then
			say "$suite: the mirror's Release file has expired ($(grep -m1 -o 'invalid since [^)]*' "$dir.update.log")): skipped; ALLOW_EXPIRED=1 takes it anyway"
			remove_chroot
			exit 5
		fi
		say "apt-get update in the new $suite chroot failed: $(tail -n 3 "$dir.update.log" | tr '\n' ' ')"
		exit 1
	fi
	# shellcheck disable=SC2086
	if ! timeout 1800 nice -n 19 chroot "$dir" apt-get $apt_opts install -y -qq \
		build-essential dkms kmod > "$dir.install.log" 2>&1; then
		say "installing build-essential and dkms in $suite failed: $(tail -n 3 "$dir.install.log" | tr '\n' ' ')"
		exit 1
	fi
	echo "$(($(date +%s) - t0)) s" > "$dir.cold-time"
	touch "$dir/.espintcp-ready"
}

suite_on_mirror "$base" || { say "$base is not on $mirror (or the mirror is unreachable): skipped"; exit 3; }
[ "$suite" = "$base" ] || suite_on_mirror "$suite" ||
	{ say "$suite is not on $mirror (or the mirror is unreachable): skipped"; exit 3; }

if [ ! -f "$dir/.espintcp-ready" ] ||
	[ -n "$(find "$dir/.espintcp-ready" -mtime +$((max_age_days - 1)))" ]; then
	make_chroot
elif ! apt_update; then
	if grep -q 'is expired' "$dir.update.log"; then
		say "$suite: the mirror's Release file has expired ($(grep -m1 -o 'invalid since [^)]*' "$dir.update.log")): skipped; ALLOW_EXPIRED=1 takes it anyway"
		exit 5
	fi
	say "apt-get update in the $suite chroot failed: making it again"
	make_chroot
fi

# The newest generic amd64 kernel: 5.10.0-N-amd64, 6.12.N+deb13-amd64,
# 7.x.N+bpo-amd64 ... (not -cloud-, -rt- or -dbg)
kver=$(chroot "$dir" apt-cache search --names-only \
	'^linux-headers-[0-9]+\.[0-9]+\.[0-9]+(-[0-9]+|\+[a-z0-9]+)-amd64$' |
	awk '{ print $1 }' | sed 's/^linux-headers-//' |
	if [ "$suite" = trixie-backports ]; then
		# only what backports has
		while read -r k; do
			chroot "$dir" apt-cache madison "linux-headers-$k" |
				grep -q " trixie-backports/" && echo "$k"
		done
	else
		cat
	fi | sort -V | tail -n 1)
if [ -z "$kver" ]; then
	say "$suite has no linux-headers-*-amd64 on $mirror: skipped"
	exit 4
fi
say "$suite: newest kernel $kver"

target=
[ "$suite" = trixie-backports ] && target="-t trixie-backports"
# shellcheck disable=SC2086
if ! timeout 1800 nice -n 19 chroot "$dir" apt-get $apt_opts $target install -y -qq \
	"linux-headers-$kver" > "$dir.headers.log" 2>&1; then
	say "installing linux-headers-$kver in $suite failed: $(tail -n 3 "$dir.headers.log" | tr '\n' ' ')"
	exit 1
fi

# The kernel image, unpacked for QEMU: the unsigned packages where there
# are, else the signed ones
kdir=$cache/kernels/$kver
if [ ! -f "$kdir/.complete" ]; then
	rm -rf "$kdir" "$dir/tmp/kimg"
	mkdir -p "$dir/tmp/kimg"
	# up to 6.x one linux-image-KVER(-unsigned) holds it all; from 7.x
	# linux-image-KVER is a frame around linux-binary-, linux-modules- and
	# linux-base-KVER
	got=
	for alts in "linux-image-$kver-unsigned linux-image-$kver" \
		"linux-binary-unsigned-$kver linux-binary-$kver" \
		"linux-modules-$kver" "linux-base-$kver"; do
		for p in $alts; do
			chroot "$dir" apt-cache show --no-all-versions "$p" > /dev/null 2>&1 || continue
			got="$got $p"
			break
		done
	done
	# shellcheck disable=SC2086
	if [ -z "$got" ] || ! timeout 900 chroot "$dir" sh -c \
		"cd /tmp/kimg && apt-get $apt_opts $target download -qq $got" \
		> "$dir.image.log" 2>&1; then
		say "cannot download the image of $kver ($got): $(tail -n 2 "$dir.image.log" | tr '\n' ' ')"
		exit 1
	fi
	rm -rf "$kdir.tmp"
	mkdir -p "$kdir.tmp"
	for deb in "$dir"/tmp/kimg/*.deb; do
		dpkg-deb -x "$deb" "$kdir.tmp"
	done
	# releases with merged /usr ship usr/lib/modules; from 7.x the kernel
	# is there too, as vmlinuz (signed) or vmlinuz.unsigned
	if [ ! -d "$kdir.tmp/lib/modules/$kver" ] && [ -d "$kdir.tmp/usr/lib/modules/$kver" ]; then
		mkdir -p "$kdir.tmp/lib/modules"
		mv "$kdir.tmp/usr/lib/modules/$kver" "$kdir.tmp/lib/modules/"
	fi
	for f in vmlinuz vmlinuz.unsigned; do
		if [ ! -f "$kdir.tmp/boot/vmlinuz-$kver" ] && [ -f "$kdir.tmp/lib/modules/$kver/$f" ]; then
			mkdir -p "$kdir.tmp/boot"
			ln "$kdir.tmp/lib/modules/$kver/$f" "$kdir.tmp/boot/vmlinuz-$kver"
		fi
	done
	if [ ! -f "$kdir.tmp/boot/vmlinuz-$kver" ] || [ ! -d "$kdir.tmp/lib/modules/$kver" ]; then
		say "$got has no boot/vmlinuz-$kver or lib/modules/$kver"
		exit 1
	fi
	# the release's own depmod: it knows its kernel's module compression
	rm -rf "$dir/tmp/kimg/root"
	mv "$kdir.tmp" "$dir/tmp/kimg/root"
	in_chroot depmod -b /tmp/kimg/root "$kver"
	mv "$dir/tmp/kimg/root" "$kdir"
	for deb in "$dir"/tmp/kimg/*.deb; do
		basename "$deb"
	done > "$kdir/.complete"
	rm -rf "$dir/tmp/kimg"
	say "${got# } unpacked into $kdir"
fi

echo "$kver"
