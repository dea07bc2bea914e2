#!/bin/bash
# Builds the guest: busybox for the basics, the real iproute2/nftables/kmod
# tools with their libraries, the stock kernel modules the tests need, the
# module under test, and the tests.
#
# Usage: mkinitramfs.sh KVER ESPINTCP_KO TESTS_BIN_DIR OUT.cpio.gz [KMOD_DIR]
#
# ESPINTCP_KO goes in as extra/espintcp.ko, or, when it is a file under
# /lib/modules/KVER (the one dkms installed), at the same place. What the
# guest must find loaded is in /tests/module.expect. The test modules in
# KMOD_DIR go to /tests/kmod.
#
# MODROOT=DIR takes the modules from DIR/lib/modules/KVER instead (a kernel
# that is not installed: make modules_install INSTALL_MOD_PATH=DIR, as for
# tests/qemu/debug-kernel.sh); in the guest they are at /lib/modules/KVER all
# the same. Modules the kernel has built in (modules.builtin) are skipped.
# EXTRA_TOOLS names more host programs to take along (make bench: perf).
set -eu

kver=$1 ko=$2 bins=$3 out=$4 kmods=${5:-}
top=$(cd "$(dirname "$0")/../.." && pwd)
# where the modules are in the guest, and where they come from
mods=/lib/modules/$kver
src=${MODROOT:-}$mods

# Modules named by the tests, then whole directories so that whatever the
# kernel request_module()s at run time (crypto templates, nft expressions,
# xfrm modes) is there too; modules.dep pulls in the dependencies.
wanted="e1000 esp4 esp6 xfrm_user xfrm_algo xfrm4_tunnel xfrm6_tunnel tunnel4 tunnel6
	ah4 ah6 ipcomp ipcomp6 veth sch_tbf sch_ingress sch_netem cls_u32
	cls_matchall act_gact nf_tables nft_chain_nat nft_nat nft_masq nf_nat
	nf_conntrack af_key aesni_intel aes_generic gcm ghash_generic
	ghash_clmulni_intel seqiv echainiv authenc authencesn cbc ctr hmac
	sha256_generic sha1_generic sha512_generic cryptd crypto_simd
	chacha20poly1305 inet_diag tcp_diag udp_diag kcm crypto_null bridge"
wanted_dirs="crypto arch/x86/crypto lib/crypto net/xfrm net/key net/ipv4
	net/ipv6 net/netfilter net/sched"
tools="dash bash ip tc ss nft iperf3 kmod tcpdump ${EXTRA_TOOLS:-}"

[ -f "$src/modules.dep" ] || { echo "no $src/modules.dep" >&2; exit 1; }
[ -f "$ko" ] || { echo "no $ko" >&2; exit 1; }

dir=$(mktemp -d)
chmod 755 "$dir"	# the guest's /: unprivileged users need to get in
trap 'rm -rf "$dir"' EXIT

mkdir -p "$dir"/{bin,dev,proc,sys,tmp,run,root,etc,lib64,tests/bin,tests/guest}
ln -s bin "$dir/sbin"
mkdir -p "$dir/usr"
ln -s ../bin "$dir/usr/bin"
ln -s ../bin "$dir/usr/sbin"
mkdir -p "$dir/var"
ln -s ../run "$dir/var/run"
[ "$(id -u)" = 0 ] && mknod "$dir/dev/console" c 5 1

cp /bin/busybox "$dir/bin/busybox"
for a in $(/bin/busybox --list); do
	[ "$a" = busybox ] || ln -sf busybox "$dir/bin/$a"
done

copy_libs() { # BINARY
	ldd "$1" | grep -o '/[^ ]*' | while read -r lib; do
		mkdir -p "$dir$(dirname "$lib")"
		cp -Ln "$lib" "$dir$lib"
	done
}

for t in $tools; do
	p=$(command -v "$t") || { echo "mkinitramfs: no $t on the host, skipped" >&2; continue; }
	rm -f "$dir/bin/$t"
	cp -L "$p" "$dir/bin/$t"
	copy_libs "$p"
done
# Debian's busybox ash runs its own applets before anything in PATH (its
# ip has no xfrm, its modprobe no .ko.xz), so /bin/sh is dash.
ln -sf dash "$dir/bin/sh"
for a in modprobe insmod rmmod lsmod depmod modinfo; do
	ln -sf kmod "$dir/bin/$a"
done
for f in /etc/iproute2 /usr/share/iproute2 /etc/protocols /etc/services; do
	[ -e "$f" ] || continue
	mkdir -p "$dir$(dirname "$f")"
	cp -a "$f" "$dir$f"
done
echo 'root:x:0:0:root:/root:/bin/sh' > "$dir/etc/passwd"
echo 'root:x:0:' > "$dir/etc/group"
if [ -x /sbin/ldconfig ]; then /sbin/ldconfig -r "$dir" 2>/dev/null || true; fi

# Module paths (relative to $mods) and their dependencies.
{
	for m in $wanted; do
		dep=$(modprobe ${MODROOT:+-d "$MODROOT"} --show-depends -S "$kver" "$m" 2>/dev/null) || {
			echo "mkinitramfs: $kver has no module $m" >&2
			continue
		}
		printf '%s\n' "$dep" | awk '$1 == "insmod" { print $2 }' |
			sed "s|^$src/||"
	done
	for d in $wanted_dirs; do
		[ -d "$src/kernel/$d" ] || continue
		(cd "$src" && find "kernel/$d" -name '*.ko*')
	done
} | sort -u > "$dir/mods.list"
awk -F': *' 'NR == FNR { want[$1] = 1; next }
	($1 in want) { print $1; n = split($2, d, " "); for (i = 1; i <= n; i++) print d[i] }' \
	"$dir/mods.list" "$src/modules.dep" | sort -u |
while read -r m; do
	mkdir -p "$dir$mods/$(dirname "$m")"
	cp "$src/$m" "$dir$mods/$m"
done
rm "$dir/mods.list"
for f in modules.order modules.builtin modules.builtin.modinfo; do
	[ -f "$src/$f" ] && cp "$src/$f" "$dir$mods/"
done
case $ko in
"$src"/*) rel=${ko#"$src"/} ;;
*) rel=extra/espintcp.ko ;;
esac
mkdir -p "$(dirname "$dir$mods/$rel")"
cp "$ko" "$dir$mods/$rel"
depmod -b "$dir" "$kver"
printf 'path=%s\nversion=%s\nsrcversion=%s\n' "$mods/$rel" \
	"$(modinfo -F version "$ko")" "$(modinfo -F srcversion "$ko")" \
	> "$dir/tests/module.expect"
# libreswan (tests/qemu/libreswan.sh), for tests/guest/50-libreswan.sh:
# pluto, whack and addconn where pluto looks for them, certutil, their
# libraries and the NSS modules NSS loads at run time. Another release's
# (a sysroot) goes to /opt/libreswan whole, and /usr/libexec/ipsec has
# scripts that run each program through the release's own loader.
if [ -n "${LIBRESWAN_ROOT:-}" ] && [ -f "$LIBRESWAN_ROOT/sysroot" ]; then
	sysroot=/opt/libreswan
	mkdir -p "$dir$sysroot" "$dir/usr/libexec/ipsec"
	cp -a "$LIBRESWAN_ROOT/." "$dir$sysroot/"
	libpath=$(cd "$LIBRESWAN_ROOT" && find . -name '*.so*' -type f -printf '%h\n' |
		sort -u | sed "s|^\.|$sysroot|" | paste -sd:)
	for b in pluto whack addconn certutil; do
		p=/usr/libexec/ipsec/$b
		[ "$b" != certutil ] || p=/usr/bin/certutil
		printf '#!/bin/sh\nexec %s --library-path %s %s "$@"\n' \
			"$sysroot$(cat "$LIBRESWAN_ROOT/loader")" "$libpath" \
			"$sysroot$p" > "$dir/usr/libexec/ipsec/$b"
		chmod 755 "$dir/usr/libexec/ipsec/$b"
	done
	# libreswan 4's pluto runs addconn from its own executable's
	# directory, which is the loader's
	ln -s /usr/libexec/ipsec/addconn "$dir$sysroot$(dirname "$(cat "$LIBRESWAN_ROOT/loader")")/addconn"
	: > "$dir/etc/hosts"
	: > "$dir/etc/resolv.conf"
	echo "mkinitramfs: libreswan $(cut -d' ' -f2- "$LIBRESWAN_ROOT/sysroot") of $(cut -d' ' -f1 "$LIBRESWAN_ROOT/sysroot"), in $sysroot" >&2
elif [ -n "${LIBRESWAN_ROOT:-}" ] && [ -x "$LIBRESWAN_ROOT/usr/libexec/ipsec/pluto" ]; then
	mkdir -p "$dir/usr/libexec/ipsec"
	for b in pluto whack addconn; do
		cp "$LIBRESWAN_ROOT/usr/libexec/ipsec/$b" "$dir/usr/libexec/ipsec/"
		copy_libs "$LIBRESWAN_ROOT/usr/libexec/ipsec/$b"
	done
	cp /usr/bin/certutil "$dir/usr/libexec/ipsec/"
	copy_libs /usr/bin/certutil
	: > "$dir/etc/hosts"
	: > "$dir/etc/resolv.conf"
	# NSS dlopen()s its modules from where libnss3.so was loaded
	nssdir=$(ldd /usr/bin/certutil | awk '$1 == "libnss3.so" { print $3 }' | xargs dirname)
	for f in $(dpkg -L libnss3 | grep -E '\.(so|chk)$'); do
		cp -Ln "$f" "$dir$nssdir/"
		case $f in *.so) copy_libs "$f" ;; esac
	done
fi
if [ -n "$kmods" ] && [ -d "$kmods" ]; then
	mkdir -p "$dir/tests/kmod"
	cp "$kmods"/*.ko "$dir/tests/kmod/"
fi

cp "$top/tests/qemu/init" "$dir/init"
chmod 755 "$dir/init"
# the guest's scripts where the tree has them
mkdir -p "$dir/tests/guest/lib" "$dir/tests/interop"
cp "$top"/tests/guest/lib/*.sh "$dir/tests/guest/lib/"
# libreswan's test scenarios for 51-libreswan-tcp.sh
cp -r "$top/tests/guest/lib/libreswan-tcp" "$dir/tests/guest/lib/"
cp "$top"/tests/guest/*.sh "$dir/tests/guest/"
cp "$top/tests/interop/guest.sh" "$dir/tests/interop/"
chmod 755 "$dir"/tests/guest/*.sh "$dir/tests/interop/guest.sh"
# tcpdump -Z root looks the user up
echo 'root:x:0:0:root:/root:/bin/sh' > "$dir/etc/passwd"
echo 'root:x:0:' > "$dir/etc/group"
if [ -d "$bins" ]; then
	find "$bins" -maxdepth 1 -type f -perm -u+x -exec cp {} "$dir/tests/bin/" \;
fi

(cd "$dir" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) |
	gzip -1 > "$out.tmp"
mv "$out.tmp" "$out"
echo "mkinitramfs: $out ($(du -h "$out" | cut -f1))" >&2
