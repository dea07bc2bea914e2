#!/bin/sh
# tests/interop/ref-kernel.sh [--cached-only] [6.1|7]: prints the path of a
# reference kernel (bzImage) with upstream's in-kernel espintcp
# (CONFIG_INET_ESPINTCP=y, CONFIG_INET6_ESPINTCP=y), for the
# interoperability tests. x86_64 tinyconfig plus tests/interop/ref-kernel.config.
#
#   6.1 (default)  Debian 12's linux-source-6.1, built on this host
#   7              the newest linux-source-7.N of trixie-backports at run
#                  time (else of sid), built in that release's chroot
#                  (tests/host/release-chroot.sh: Debian 12's gcc is too old
#                  for 7.x), where the source package and the build's
#                  dependencies are installed with its apt
#
# The result is cached outside the clone, keyed by the source package's
# version and the config fragment's settings (not its comments), so only
# the first run pays for the build: $ESPINTCP_CACHE (default
# /var/cache/espintcp)/ref-kernel/KEY/ (bzImage, config, build.log).
# --cached-only: print the path if it is cached, else exit 1 at once.
# The build runs under nice -n 19 with -j$REF_KERNEL_JOBS (default: the
# number of CPUs).
#
# Exit status: 0 the path is on stdout; 3 (7 only) neither trixie-backports
# nor sid has a linux-source-7.* on the mirror (one line on stderr: skip
# it); 1 anything else.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
base=${ESPINTCP_CACHE:-/var/cache/espintcp}
cache=$base/ref-kernel
frag=$top/tests/interop/ref-kernel.config
jobs=${REF_KERNEL_JOBS:-$(nproc)}
export LC_ALL=C

say() { echo "ref-kernel: $*" >&2; }
cached_only=0 line=6.1
for a in "$@"; do
	case $a in
	--cached-only) cached_only=1 ;;
	6.1 | 7) line=$a ;;
	*) say "usage: $0 [--cached-only] [6.1|7]"; exit 1 ;;
	esac
done
# 7: tests/interop/ref-kernel-7.config after it, and in the key
frags=$frag
[ "$line" = 6.1 ] || frags="$frag $top/tests/interop/ref-kernel-$line.config"
# shellcheck disable=SC2086
# what of a config fragment the build reads: its options, "# CONFIG_X is
# not set" included, and ref-kernel.sh's "# gone:" lines; not the comments
settings() { grep -E '^(CONFIG_|# CONFIG_[A-Za-z0-9_]+ is not set|# gone: )'; }
fraghash=$(cat $frags | settings | sha256sum | cut -c1-12)

# CMD... in the chroot $root, in a mount namespace of its own with /proc
# mounted: what others run in the same chroot (release-chroot.sh --run
# mounts and unmounts its /proc) does not pull it away mid-build
in_chroot() {
	# shellcheck disable=SC2016
	unshare -m --propagation private sh -c \
		'mount -t proc proc "$1/proc" && r=$1 && shift && exec chroot "$r" "$@"' \
		sh "$root" "$@"
}

# "PACKAGE VERSION" of the newest linux-source-7.N that SUITE's own archive
# has, from the package lists of its chroot (nothing if none)
newest_source() { # SUITE
	r=$base/chroot/$1
	[ -f "$r/.espintcp-ready" ] || return 0
	chroot "$r" apt-cache search --names-only '^linux-source-7\.[0-9]+$' |
		awk '{ print $1 }' | while read -r p; do
		v=$(chroot "$r" apt-cache madison "$p" |
			awk -F'|' -v s=" $1/" 'index($3, s) { gsub(/ /, "", $2); print $2; exit }')
		[ -z "$v" ] || echo "$p $v"
	done | sort -V | tail -n 1
}

if [ "$line" = 6.1 ]; then
	pkg=linux-source-6.1
	srcver=$(dpkg-query -W -f='${Version}' $pkg 2>/dev/null || true)
	if [ -z "$srcver" ]; then
		[ "$cached_only" = 1 ] && exit 1
		apt-get install -y -qq $pkg >/dev/null
		srcver=$(dpkg-query -W -f='${Version}' $pkg)
	fi
	root='' tarball=/usr/src/$pkg.tar.xz
else
	suite='' pkg='' srcver='' why=''
	mkdir -p "$cache"
	for s in trixie-backports sid; do
		if [ "$cached_only" = 0 ]; then
			# the chroot, made or brought up to date (its apt-get
			# update): the newest source at run time
			rc=0
			"$top/tests/host/release-chroot.sh" "$s" > /dev/null \
				2> "$cache/release-chroot-$s.log" || rc=$?
			case $rc in
			0) ;;
			3 | 4 | 5) # not on the mirror: the next suite
				why="$why${why:+, }$s: release-chroot.sh exit $rc"
				continue ;;
			*)
				cat "$cache/release-chroot-$s.log" >&2
				say "tests/host/release-chroot.sh $s failed (exit $rc)"
				exit 1 ;;
			esac
		fi
		got=$(newest_source "$s")
		if [ -n "$got" ]; then
			suite=$s pkg=${got% *} srcver=${got#* }
			break
		fi
	done
	if [ -z "$srcver" ]; then
		if [ "$cached_only" = 1 ]; then
			# no chroot to ask: the newest 7.x built with this fragment
			out=$(find "$cache" -mindepth 2 -maxdepth 2 -path "$cache/7.*-$fraghash/bzImage" |
				sort -V | tail -n 1)
			[ -n "$out" ] || exit 1
			echo "$out"
			exit 0
		fi
		say "no linux-source-7.* in trixie-backports or sid on the mirror${why:+ ($why)}: no 7.x reference kernel"
		exit 3
	fi
	root=$base/chroot/$suite tarball=/usr/src/$pkg.tar.xz
fi
key=$srcver-$fraghash
out=$cache/$key/bzImage
if [ -f "$out" ]; then
	echo "$out"
	exit 0
fi
[ "$cached_only" = 1 ] && exit 1

mkdir -p "$cache"
# one build per key at a time
exec 8>"$cache/$key.lock"
flock 8
if [ -f "$out" ]; then
	echo "$out"
	exit 0
fi

deps="flex bison libelf-dev libssl-dev bc"
if [ -z "$root" ]; then
	for p in $deps; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
			apt-get install -y -qq "$p" >/dev/null
	done
else
	# the source and what the build needs, with the release's apt, under
	# release-chroot.sh's lock (it runs apt in the chroot too)
	t0=$(date +%s)
	mkdir -p "$cache/$key"
	# shellcheck disable=SC2086
	if ! timeout 1800 flock -w 1800 "$base/chroot/$suite.lock" \
		nice -n 19 chroot "$root" env DEBIAN_FRONTEND=noninteractive \
		apt-get -o Acquire::http::Timeout=30 -o Acquire::Retries=2 \
		-t "$suite" install -y -qq "$pkg=$srcver" $deps cpio > "$cache/$key/install.log" 2>&1; then
		say "installing $pkg $srcver in the $suite chroot failed: $(tail -n 3 "$cache/$key/install.log" | tr '\n' ' ')"
		exit 1
	fi
	say "$pkg $srcver and the build's dependencies installed in the $suite chroot in $(($(date +%s) - t0))s"
fi

t0=$(date +%s)
# the tree: in the chroot for 7 (its compiler builds it), else in the cache
if [ -z "$root" ]; then
	inner=$cache/$key/src work=$inner
else
	inner=/var/tmp/espintcp-ref-kernel-$key work=$root$inner
fi
mk() {
	if [ -z "$root" ]; then
		nice -n 19 make -C "$inner" -s ARCH=x86_64 "$@"
	else
		in_chroot nice -n 19 make -C "$inner" -s ARCH=x86_64 "$@"
	fi
}
rm -rf "$work"
mkdir -p "$work" "$cache/$key"
say "unpacking $pkg $srcver"
tar -C "$work" --strip-components=1 -xf "$root$tarball"
log=$cache/$key/build.log
mk tinyconfig > "$log" 2>&1
# shellcheck disable=SC2086
cat $frags >> "$work/.config"
mk olddefconfig >> "$log" 2>&1
# olddefconfig drops what it cannot satisfy and turns on what something
# selects: say so rather than boot something else. "# gone: CONFIG_X"
# (kernel-7.config): X must be in no Kconfig of the tree, and is not
# looked for.
# shellcheck disable=SC2086
gone=$(cat $frags | sed -n 's/^# gone: \(CONFIG_[A-Z0-9_]*\).*/\1/p' | tr '\n' ' ')
for c in $gone; do
	if grep -rqx --include='Kconfig*' "\(menu\)\?config ${c#CONFIG_}" "$work"; then
		say "$c is marked gone, but $pkg $srcver has it: drop the \"# gone\" line"
		exit 1
	fi
	say "not in $pkg (as expected): $c"
done
# shellcheck disable=SC2086
missing=$(cat $frags | grep -E '^(CONFIG_.*=y|# CONFIG_.* is not set)$' | while read -r l; do
	case $l in
	"# "*) c=${l#\# }; c=${c%% *} ;;
	*) c=${l%%=*} ;;
	esac
	case " $gone " in *" $c "*) continue ;; esac
	case $l in
	"# "*) ! grep -q "^$c=" "$work/.config" || echo "$c (set)" ;;
	*) grep -qx "$l" "$work/.config" || echo "$c" ;;
	esac
done)
if [ -n "$missing" ]; then
	say "the config lost: $missing"
	exit 1
fi
say "building bzImage of $pkg $srcver with -j$jobs (nice 19)${root:+ in $root}"
if ! mk -j"$jobs" bzImage >> "$log" 2>&1; then
	tail -n 30 "$log" >&2
	exit 1
fi
cp "$work/arch/x86/boot/bzImage" "$out.tmp"
cp "$work/.config" "$cache/$key/config"
mv "$out.tmp" "$out"
rm -rf "$work"
echo "built in $(($(date +%s) - t0))s" >> "$log"
say "built in $(($(date +%s) - t0))s: $out"
echo "$out"
