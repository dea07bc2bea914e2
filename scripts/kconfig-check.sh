#!/bin/sh
# scripts/kconfig-check.sh KDIR: can espintcp.ko be built for, and is it
# needed by, the kernel whose headers (or build tree) are in KDIR? Prints
# the option that says no, and exits 1, or prints nothing and exits 0.
# Run by make before Kbuild. The options are dkms.conf's
# BUILD_EXCLUSIVE_CONFIG, which says the same to dkms, so that dkms skips
# the kernel instead of failing: "OPT" must be set, "!OPT" must not.
set -eu
kdir=${1:?usage: $0 KDIR}
config=$kdir/.config
dkms_conf=$(dirname "$0")/../dkms.conf
opts=$(sed -n 's/^BUILD_EXCLUSIVE_CONFIG="\(.*\)"$/\1/p' "$dkms_conf" 2>/dev/null)
if [ -z "$opts" ]; then
	echo "espintcp: no BUILD_EXCLUSIVE_CONFIG in $dkms_conf: the source tree is incomplete" >&2
	exit 1
fi

if [ ! -f "$config" ]; then
	echo "espintcp: $config not found: install the headers of that kernel (linux-headers-<release>)" >&2
	exit 1
fi

refuse() {
	echo "espintcp: not building for $kdir: $*" >&2
	exit 1
}

set_in() { grep -qE "^$1=[ym]" "$config"; }

# the kernel's own espintcp first: such a kernel has everything else
for opt in $opts; do
	case $opt in
	!*) ! set_in "${opt#!}" ||
		refuse "${opt#!} is set: this kernel has espintcp built in; use it and uninstall this module" ;;
	esac
done
for opt in $opts; do
	case $opt in
	!*) ;;
	*) set_in "$opt" ||
		refuse "$opt is not set: the module needs it (rebuild the kernel with $opt=y or =m)" ;;
	esac
done
