#!/bin/sh
# On a kernel that already has espintcp (CONFIG_INET_ESPINTCP=y registers
# the "espintcp" TCP ULP at boot), the module refuses to load and says why
# in one kernel log line. No such kernel is at hand: tests/kmod's
# fake_espintcp.ko registers a ULP of that name first, as the kernel would.
set -eu
. /tests/guest/lib/netns.sh

fake=/tests/kmod/fake_espintcp.ko
if [ ! -f "$fake" ]; then
	skip "refused on a kernel with espintcp built in" "$fake was not built"
	exit 0
fi
[ ! -d /sys/module/espintcp ] || rmmod_wait

check "insmod fake_espintcp.ko (the kernel's own espintcp ULP)" insmod "$fake"
dmesg -c > /dev/null
out=$(modprobe espintcp 2>&1) && rc=0 || rc=$?
check_eq "modprobe espintcp fails" 1 "$rc"
# not EEXIST, which modprobe would report as success ("already loaded")
check_eq "modprobe says: Device or resource busy" 1 \
	"$(printf '%s\n' "$out" | grep -c "could not insert 'espintcp': Device or resource busy")"
check_eq "one kernel log line says why" \
	"espintcp: this kernel already provides the espintcp ULP (CONFIG_INET_ESPINTCP); the module is not needed" \
	"$(dmesg | grep -i espintcp | sed 's/^\[[ 0-9.]*\] //')"
check "espintcp is not loaded" sh -c '! [ -d /sys/module/espintcp ]'
check "rmmod fake_espintcp" rmmod fake_espintcp
check "then modprobe espintcp works" modprobe espintcp
check "rmmod espintcp" rmmod espintcp
