# The Debian package and dkms, on the host: part of make check (check.sh
# sources this; bash). It needs root and changes the machine: it installs
# espintcp-dkms, which builds the module for every kernel in build/matrix,
# and removes it again at the end.
#
#   pkg_install    build the .deb, lintian, the kernel-config refusals,
#                  apt install, what dkms put under /lib/modules, modinfo
#   pkg_module K   the dkms-built module of kernel K, for the guest
#   pkg_remove     apt remove, and nothing left behind; then the same
#                  with make dkms-install and dkms-remove
# shellcheck shell=bash disable=SC2154  # root: from tests/qemu/lib.sh

PKG_VERSION=$(sed -n '1s/^[^(]*(\([^)]*\)).*/\1/p' "$root/debian/changelog")
# kernels dkms must skip: one whose "headers" say espintcp is built in,
# one older than the oldest supported (5.10)
PKG_FAKE_KVER=6.99.0-espintcp-builtin
PKG_OLD_KVER=5.4.0-espintcp-old
pkg_installed=0

pkg_cleanup() {
	rm -rf "/lib/modules/$PKG_FAKE_KVER" "/var/lib/dkms/espintcp/kernel-$PKG_FAKE_KVER-"* \
		"/lib/modules/$PKG_OLD_KVER" "/var/lib/dkms/espintcp/kernel-$PKG_OLD_KVER-"*
}

# a copy of a kernel's .config with option $2 changed to $3 ("" deletes it)
fake_kconfig() { # DIR CONFIG_OPTION VALUE
	local k
	k=$(matrix | head -n 1)
	mkdir -p "$1/include"
	grep -v "^$2=" "/lib/modules/$k/build/.config" > "$1/.config"
	[ -z "$3" ] || echo "$2=$3" >> "$1/.config"
}

# make refuses a kernel without what the module needs, or with espintcp
# built in, before Kbuild runs, and says which option is the reason
pkg_refusals() {
	local opt val tmp out rc what
	tmp=$(mktemp -d)
	for opt in CONFIG_INET_ESPINTCP=y CONFIG_XFRM= CONFIG_INET_ESP= CONFIG_NETFILTER=; do
		val=${opt#*=} opt=${opt%%=*}
		what="$opt=$val"
		[ -n "$val" ] || what="$opt unset"
		fake_kconfig "$tmp" "$opt" "$val"
		rc=0
		out=$(make -s -C "$root" module KVER=fake KDIR="$tmp" 2>&1) || rc=$?
		if [ "$rc" != 0 ] && printf '%s' "$out" | grep -q "$opt"; then
			result ok pkg "make refuses a kernel with $what"
			printf '%s\n' "$out" | grep -v '^make' | sed 's/^/# /'
		else
			result "not ok" pkg "make refuses a kernel with $what (exit $rc)"
			printf '%s\n' "$out" | sed 's/^/#   /'
		fi
	done
	rm -rf "$tmp" "$BUILD/fake"
}

pkg_modinfo_check() { # KVER
	local k=$1 ko f
	ko=$(pkg_module "$k")
	if [ -z "$ko" ]; then
		result "not ok" "$k" "dkms installed updates/dkms/espintcp.ko"
		return
	fi
	result ok "$k" "dkms installed ${ko#/lib/modules/"$k"/}"
	for f in "version:$PKG_VERSION" "license:GPL" "alias:tcp-ulp-espintcp" \
		"description:RFC 8229 TCP encapsulation of IKE and ESP (espintcp ULP)" \
		"parm:esp_queue_bytes:memory (truesize) of ESP that may wait for a socket's slot; more is dropped (uint)" \
		"parm:esp_notsent_bytes:ESP enters TCP only while fewer unsent bytes wait there (0: no limit) (uint)"; do
		check_out "$k" "modinfo ${f%%:*}: ${f#*:}" "${f#*:}" \
			"$(modinfo -F "${f%%:*}" "$ko" | grep -Fx "${f#*:}")"
	done
}

check_out() { # KVER DESC WANT GOT
	if [ "$3" = "$4" ]; then
		result ok "$1" "$2"
	else
		result "not ok" "$1" "$2"
		echo "#   got: '$4'"
	fi
}

pkg_install() {
	local deb out rc k
	pkg_refusals

	if ! out=$(make -C "$root" deb 2>&1); then
		result "not ok" pkg "dpkg-buildpackage builds espintcp-dkms"
		printf '%s\n' "$out" | tail -n 30 | sed 's/^/#   /'
		return 1
	fi
	deb=$BUILD/deb/espintcp-dkms_${PKG_VERSION}_all.deb
	check_out pkg "dpkg-buildpackage builds $(basename "$deb")" yes \
		"$([ -f "$deb" ] && echo yes)"

	rc=0
	out=$(lintian --fail-on error,warning "$BUILD"/deb/*.changes 2>&1) || rc=$?
	out=$(printf '%s\n' "$out" | grep -v 'running with root privileges' || true)
	check_out pkg "lintian: no errors or warnings" "0 " \
		"$rc $(printf '%s\n' "$out" | grep -E '^[EW]:' || true)"
	[ -z "$out" ] || printf '%s\n' "$out" | sed 's/^/#   lintian: /'

	# whatever an earlier run or make dkms-install left
	apt-get purge -y -qq espintcp-dkms >/dev/null 2>&1 || true
	dkms remove "espintcp/$PKG_VERSION" --all >/dev/null 2>&1 || true
	rm -rf "/usr/src/espintcp-$PKG_VERSION"

	pkg_cleanup
	fake_kconfig "/lib/modules/$PKG_FAKE_KVER/build" CONFIG_INET_ESPINTCP y
	fake_kconfig "/lib/modules/$PKG_OLD_KVER/build" CONFIG_INET_ESPINTCP ""
	rc=0
	out=$(DEBIAN_FRONTEND=noninteractive apt-get install -y "$deb" 2>&1) || rc=$?
	printf '%s\n' "$out" > "$BUILD/deb/install.log"
	pkg_installed=1
	check_out pkg "apt install ./$(basename "$deb")" 0 "$rc"
	[ "$rc" = 0 ] || tail -n 30 "$BUILD/deb/install.log" | sed 's/^/#   /'
	check_out pkg "dkms skipped the kernel with espintcp built in ($PKG_FAKE_KVER)" \
		"" "$(find "/lib/modules/$PKG_FAKE_KVER" -name 'espintcp.ko*')"
	check_out pkg "and said why: CONFIG_INET_ESPINTCP is set" yes "$(grep -q \
		"espintcp: not building for /lib/modules/$PKG_FAKE_KVER/build: CONFIG_INET_ESPINTCP is set" \
		"$BUILD/deb/install.log" && echo yes)"
	check_out pkg "dkms skipped the kernel older than 5.10 ($PKG_OLD_KVER)" \
		"" "$(find "/lib/modules/$PKG_OLD_KVER" -name 'espintcp.ko*')"
	check_out pkg "and said why: older than 5.10" yes "$(grep -q \
		"espintcp: not building for $PKG_OLD_KVER: kernels older than 5.10 are not supported" \
		"$BUILD/deb/install.log" && echo yes)"
	pkg_cleanup
	for k in $(matrix); do
		pkg_modinfo_check "$k"
	done
}

# the dkms-built module of KVER, or nothing
pkg_module() { # KVER
	[ "$pkg_installed" = 1 ] || return 0
	find "/lib/modules/$1/updates/dkms" -name 'espintcp.ko*' 2>/dev/null | head -n 1
}

pkg_remove() {
	local rc=0 k
	[ "$pkg_installed" = 1 ] || return 0
	DEBIAN_FRONTEND=noninteractive apt-get remove -y -qq espintcp-dkms \
		> "$BUILD/deb/remove.log" 2>&1 || rc=$?
	check_out pkg "apt remove espintcp-dkms" 0 "$rc"
	for k in $(matrix); do
		check_out "$k" "apt remove took espintcp.ko out of /lib/modules" "" \
			"$(find "/lib/modules/$k" -name 'espintcp.ko*')"
	done
	check_out pkg "dkms no longer knows espintcp" "" "$(dkms status espintcp 2>&1)"
	check_out pkg "/usr/src/espintcp-$PKG_VERSION removed" "" \
		"$(ls -d "/usr/src/espintcp-$PKG_VERSION" 2>/dev/null)"
	pkg_installed=0

	# the same through dkms from this tree, for every kernel with headers
	rc=0
	make -C "$root" dkms-install > "$BUILD/deb/dkms-install.log" 2>&1 || rc=$?
	check_out pkg "make dkms-install" 0 "$rc"
	[ "$rc" = 0 ] || tail -n 20 "$BUILD/deb/dkms-install.log" | sed 's/^/#   /'
	for k in $(matrix); do
		check_out "$k" "make dkms-install: espintcp.ko in updates/dkms, version $PKG_VERSION" \
			"$PKG_VERSION" "$(modinfo -k "$k" -F version espintcp 2>&1)"
	done
	rc=0
	make -C "$root" dkms-remove > "$BUILD/deb/dkms-remove.log" 2>&1 || rc=$?
	check_out pkg "make dkms-remove" 0 "$rc"
	for k in $(matrix); do
		check_out "$k" "make dkms-remove took espintcp.ko out of /lib/modules" "" \
			"$(find "/lib/modules/$k" -name 'espintcp.ko*')"
	done
}

# The package in the chroot of another Debian release (build/releases,
# tests/host/release-chroot.sh): installed with that release's apt, the module
# built by its dkms for its kernel. In a chroot `uname -r` is the host's, so
# dkms is asked for the kernel by name if the install did not build it.

in_release() { # SUITE CMD...
	local suite=$1
	shift
	"$root/tests/host/release-chroot.sh" --run "$suite" \
		env DEBIAN_FRONTEND=noninteractive "$@"
}

# the module dkms built, uncompressed into DIR for the guest, in $release_ko
# the release's own lintian on the .deb (installed in its chroot once)
pkg_release_lintian() { # SUITE KVER DEB_IN_CHROOT
	local suite=$1 k=$2 rc=0 out version
	if ! in_release "$suite" sh -c 'command -v lintian > /dev/null ||
		apt-get install -y -qq --no-install-recommends lintian' > /dev/null 2>&1; then
		result "not ok" "$k" "$suite: apt install lintian in the $suite chroot"
		return
	fi
	version=$(in_release "$suite" lintian --version 2>/dev/null)
	out=$(in_release "$suite" lintian --fail-on error,warning "$3" 2>&1) || rc=$?
	out=$(printf '%s\n' "$out" | grep -v 'running with root privileges' || true)
	check_out "$k" "$suite: ${version:-lintian}: no errors or warnings" "0 " \
		"$rc $(printf '%s\n' "$out" | grep -E '^[EW]:' || true)"
	[ -z "$out" ] || printf '%s\n' "$out" | sed 's/^/#   lintian: /'
}

pkg_release_install() { # SUITE KVER DIR
	local suite=$1 k=$2 dir=$3 deb chroot log rc=0 ko
	release_ko=
	chroot=$RELEASE_CACHE/chroot/$suite
	deb=$BUILD/deb/espintcp-dkms_${PKG_VERSION}_all.deb
	log=$dir/pkg-install.log
	[ -f "$deb" ] || { result "not ok" "$k" "$suite: no $(basename "$deb") to install"; return 1; }
	cp "$deb" "$chroot/tmp/"
	pkg_release_lintian "$suite" "$k" "/tmp/$(basename "$deb")"
	in_release "$suite" apt-get purge -y -qq espintcp-dkms > /dev/null 2>&1 || true
	in_release "$suite" apt-get install -y "/tmp/$(basename "$deb")" > "$log" 2>&1 || rc=$?
	check_out "$k" "$suite: apt install ./$(basename "$deb") with $suite's dkms ($(in_release "$suite" dpkg-query -W -f '${Version}' dkms))" 0 "$rc"
	[ "$rc" = 0 ] || { tail -n 20 "$log" | sed 's/^/#   /'; return 1; }
	ko=$(find "$chroot/lib/modules/$k/updates/dkms" -name 'espintcp.ko*' 2>/dev/null | head -n 1)
	if [ -z "$ko" ]; then
		in_release "$suite" dkms install "espintcp/$PKG_VERSION" -k "$k" >> "$log" 2>&1 || rc=$?
		ko=$(find "$chroot/lib/modules/$k/updates/dkms" -name 'espintcp.ko*' 2>/dev/null | head -n 1)
	fi
	if [ -z "$ko" ]; then
		result "not ok" "$k" "$suite: dkms built espintcp.ko for $k"
		tail -n 10 "$log" | sed 's/^/#   /'
		echo "#   dkms make.log:"
		tail -n 30 "$chroot/var/lib/dkms/espintcp/$PKG_VERSION/build/make.log" 2>/dev/null | sed 's/^/#   /'
		return 1
	fi
	result ok "$k" "$suite: dkms built ${ko#"$chroot"/lib/modules/"$k"/}"
	case $ko in
	*.xz) xz -dc "$ko" > "$dir/espintcp.ko" ;;
	*.zst) zstd -qdc "$ko" > "$dir/espintcp.ko" ;;
	*) cp "$ko" "$dir/espintcp.ko" ;;
	esac
	check_out "$k" "$suite: modinfo version: $PKG_VERSION" "$PKG_VERSION" \
		"$(modinfo -F version "$dir/espintcp.ko")"
	# shellcheck disable=SC2034  # check.sh's check_release reads it
	release_ko=$dir/espintcp.ko
}

# apt purge in the chroot, and nothing left behind
pkg_release_remove() { # SUITE KVER
	local suite=$1 k=$2 chroot rc=0
	chroot=$RELEASE_CACHE/chroot/$suite
	in_release "$suite" apt-get purge -y -qq espintcp-dkms > /dev/null 2>&1 || rc=$?
	check_out "$k" "$suite: apt purge espintcp-dkms" 0 "$rc"
	check_out "$k" "$suite: nothing left (module, /usr/src, dkms tree)" "" \
		"$(find "$chroot/lib/modules/$k" -name 'espintcp.ko*'; \
		   ls -d "$chroot/usr/src/espintcp-"* "$chroot/var/lib/dkms/espintcp" 2>/dev/null)"
}
