#!/bin/sh
# scripts/kconfig-check.sh KDIR: can espintcp.ko be built for, and is it
# needed by, the kernel whose headers (or build tree) are in KDIR? Prints
# the option that says no, and exits 1, or prints nothing and exits 0.
# Run by make before Kbuild; dkms.conf's BUILD_EXCLUSIVE_CONFIG says the
# same to dkms, which then skips the kernel instead of failing.
set -eu
kdir=${1:?usage: $0 KDIR}
config=$kdir/.config

if [ ! -f "$config" ]; then
	echo "espintcp: $config not found: install the headers of that kernel (linux-headers-<release>)" >&2
	exit 1
fi

refuse() {
	echo "espintcp: not building for $kdir: $*" >&2
	exit 1
}

set_in() { grep -qE "^$1=[ym]" "$config"; }

if set_in CONFIG_INET_ESPINTCP || set_in CONFIG_INET6_ESPINTCP; then
	refuse "CONFIG_INET_ESPINTCP is set: this kernel has espintcp built in; use it and uninstall this module"
fi
for opt in CONFIG_XFRM CONFIG_INET_ESP CONFIG_STREAM_PARSER CONFIG_NETFILTER; do
	set_in "$opt" || refuse "$opt is not set: the module needs it (rebuild the kernel with $opt=y or =m)"
done
