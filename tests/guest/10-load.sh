#!/bin/sh
# espintcp.ko loads and unloads cleanly with no sockets around, the alias
# the kernel asks for on setsockopt(TCP_ULP, "espintcp") resolves to it, and
# it is the module the host put in (make check: the one dkms built).
set -eu
. /tests/guest/lib/netns.sh

# path=, version=, srcversion= of the module under test (mkinitramfs.sh)
want() { sed -n "s/^$1=//p" /tests/module.expect; }
ko=$(want path)
loaded() { [ -d /sys/module/espintcp ]; }

check "espintcp not loaded at boot" sh -c '! [ -d /sys/module/espintcp ]'
check_eq "tcp-ulp-espintcp resolves to ${ko#/lib/modules/*/}" "insmod $ko" \
	"$(modprobe -n -v tcp-ulp-espintcp 2>&1 | grep 'espintcp\.ko' | sed 's/ *$//')"

for round in 1 2; do
	check "modprobe espintcp (round $round)" modprobe espintcp
	check "/sys/module/espintcp appears (round $round)" loaded
	check_eq "refcnt is 0 with no sockets (round $round)" 0 \
		"$(cat /sys/module/espintcp/refcnt 2>&1)"
	check "lsmod lists espintcp (round $round)" sh -c 'lsmod | grep -q "^espintcp "'
	if [ "$round" = 1 ]; then
		check_eq "loaded module's version is $(want version)" \
			"$(want version)" "$(cat /sys/module/espintcp/version 2>&1)"
		check_eq "loaded module's srcversion is the host's" \
			"$(want srcversion)" "$(cat /sys/module/espintcp/srcversion 2>&1)"
	fi
	check "rmmod espintcp (round $round)" rmmod espintcp
	check "/sys/module/espintcp disappears (round $round)" sh -c '! [ -d /sys/module/espintcp ]'
done
