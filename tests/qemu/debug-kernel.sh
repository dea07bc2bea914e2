#!/bin/sh
# tests/qemu/debug-kernel.sh: prints the path of a debug kernel (bzImage)
# built from Debian's linux-source-6.1 with KASAN, KFENCE, kmemleak,
# lockdep, debug objects, UBSAN and SLUB debugging, for `make check-debug`.
# x86_64 tinyconfig plus tests/qemu/debug-kernel.config: what the guest suite
# needs is built in, except for a few modules (see the fragment), and
# espintcp is not, so that the module under test can be loaded into it.
#
# Cached like tests/interop/ref-kernel.sh, keyed by the source package's version
# and the fragment's settings: $ESPINTCP_CACHE (default /var/cache/espintcp)/
# debug-kernel/KEY/ holds, once complete,
#   bzImage         the kernel (its presence says the rest is complete)
#   build/          the whole object tree: KDIR for `make KDIR=...`
#   modules/        INSTALL_MOD_PATH: modules/lib/modules/$(cat kernelrelease)
#   kernelrelease   its `uname -r`
#   config, build.log, build.time
# --cached-only: print the path if it is cached, else exit 1 at once.
# The build runs under nice -n 19 and ionice -c3 (the machine is shared).
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
cache=${ESPINTCP_CACHE:-/var/cache/espintcp}/debug-kernel
frag=$top/tests/qemu/debug-kernel.config

srcver=$(dpkg-query -W -f='${Version}' linux-source-6.1 2>/dev/null || true)
if [ -z "$srcver" ]; then
	[ "${1:-}" = --cached-only ] && exit 1
	apt-get install -y -qq linux-source-6.1 >/dev/null
	srcver=$(dpkg-query -W -f='${Version}' linux-source-6.1)
fi
# what of a config fragment the build reads: its options, "# CONFIG_X is
# not set" included, and ref-kernel.sh's "# gone:" lines; not the comments
settings() { grep -E '^(CONFIG_|# CONFIG_[A-Za-z0-9_]+ is not set|# gone: )'; }
key=$srcver-$(settings < "$frag" | sha256sum | cut -c1-12)
dir=$cache/$key
out=$dir/bzImage
if [ -f "$out" ]; then
	echo "$out"
	exit 0
fi
[ "${1:-}" = --cached-only ] && exit 1

for p in flex bison libelf-dev libssl-dev bc; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
		apt-get install -y -qq "$p" >/dev/null
done

# one build per key at a time: a second caller waits, then finds it cached
mkdir -p "$cache"
exec 9>"$cache/$key.lock"
if ! flock -n 9; then
	echo "debug-kernel: waiting for another build of $key" >&2
	flock 9
fi
if [ -f "$out" ]; then
	echo "$out"
	exit 0
fi

slow() { nice -n 19 ionice -c3 "$@"; }

t0=$(date +%s)
work=$dir/build
rm -rf "$dir"
mkdir -p "$work"
echo "debug-kernel: unpacking linux-source-6.1 $srcver" >&2
slow tar -C "$work" --strip-components=1 -xf /usr/src/linux-source-6.1.tar.xz
cd "$work"
log=$dir/build.log
make -s ARCH=x86_64 tinyconfig > "$log" 2>&1
cat "$frag" >> .config
make -s ARCH=x86_64 olddefconfig >> "$log" 2>&1
# olddefconfig drops what it cannot satisfy: say so rather than boot
# something else
missing=$(grep -E '^CONFIG_[A-Z0-9_]+=[ym]$' "$frag" | while read -r l; do
	grep -qx "$l" .config || echo "${l%%=*}"
done)
if [ -n "$missing" ]; then
	echo "debug-kernel: the config lost: $(echo $missing)" >&2
	exit 1
fi
for o in CONFIG_INET_ESPINTCP CONFIG_INET6_ESPINTCP; do
	if grep -qE "^$o=[ym]" .config; then
		echo "debug-kernel: $o is set: the module under test could not load" >&2
		exit 1
	fi
done
echo "debug-kernel: building bzImage and modules on $(nproc) CPUs, niced (see $log)" >&2
if ! slow make -s -j"$(nproc)" ARCH=x86_64 bzImage modules >> "$log" 2>&1; then
	tail -n 30 "$log" >&2
	exit 1
fi
make -s ARCH=x86_64 kernelrelease > "$dir/kernelrelease"
slow make -s ARCH=x86_64 INSTALL_MOD_PATH="$dir/modules" modules_install >> "$log" 2>&1
cp .config "$dir/config"
t=$(($(date +%s) - t0))
echo "$t s, $(nproc) CPUs, nice 19, load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)" > "$dir/build.time"
cp arch/x86/boot/bzImage "$out.tmp"
mv "$out.tmp" "$out"
echo "debug-kernel: built $(cat "$dir/kernelrelease") in ${t}s: $out" >&2
echo "$out"
