#!/bin/sh
# scripts/ref-kernel.sh: prints the path of a reference kernel (bzImage)
# built from Debian's linux-source-6.1 with upstream's in-kernel espintcp
# (CONFIG_INET_ESPINTCP=y, CONFIG_INET6_ESPINTCP=y), for the
# interoperability tests. x86_64 tinyconfig plus tests/ref/kernel.config.
#
# The result is cached outside the clone, keyed by the source package's
# version and the config fragment, so only the first run pays for the
# build: $ESPINTCP_CACHE (default /var/cache/espintcp)/ref-kernel/KEY/.
# --cached-only: print the path if it is cached, else exit 1 at once.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cache=${ESPINTCP_CACHE:-/var/cache/espintcp}/ref-kernel
frag=$top/tests/ref/kernel.config

srcver=$(dpkg-query -W -f='${Version}' linux-source-6.1 2>/dev/null || true)
if [ -z "$srcver" ]; then
	[ "${1:-}" = --cached-only ] && exit 1
	apt-get install -y -qq linux-source-6.1 >/dev/null
	srcver=$(dpkg-query -W -f='${Version}' linux-source-6.1)
fi
key=$srcver-$(sha256sum "$frag" | cut -c1-12)
out=$cache/$key/bzImage
if [ -f "$out" ]; then
	echo "$out"
	exit 0
fi
[ "${1:-}" = --cached-only ] && exit 1

for p in flex bison libelf-dev libssl-dev bc; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
		apt-get install -y -qq "$p" >/dev/null
done

t0=$(date +%s)
work=$cache/$key/src
rm -rf "$work"
mkdir -p "$work"
echo "ref-kernel: unpacking linux-source-6.1 $srcver" >&2
tar -C "$work" --strip-components=1 -xf /usr/src/linux-source-6.1.tar.xz
cd "$work"
log=$cache/$key/build.log
make -s ARCH=x86_64 tinyconfig > "$log" 2>&1
cat "$frag" >> .config
make -s ARCH=x86_64 olddefconfig >> "$log" 2>&1
# olddefconfig drops what it cannot satisfy: say so rather than boot
# something else
missing=$(grep '^CONFIG_.*=y' "$frag" | while read -r l; do
	grep -qx "$l" .config || echo "${l%%=*}"
done)
if [ -n "$missing" ]; then
	echo "ref-kernel: the config lost: $missing" >&2
	exit 1
fi
echo "ref-kernel: building bzImage on $(nproc) CPUs" >&2
if ! make -s -j"$(nproc)" ARCH=x86_64 bzImage >> "$log" 2>&1; then
	tail -n 30 "$log" >&2
	exit 1
fi
cp arch/x86/boot/bzImage "$out.tmp"
cp .config "$cache/$key/config"
mv "$out.tmp" "$out"
cd /
rm -rf "$work"
echo "ref-kernel: built in $(($(date +%s) - t0))s: $out" >&2
echo "$out"
