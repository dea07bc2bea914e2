#!/bin/sh
# espintcp.ko loads and unloads cleanly with no sockets around, and the
# alias the kernel asks for on setsockopt(TCP_ULP, "espintcp") resolves to it.
set -eu
. /tests/netns.sh

ko=/lib/modules/$(uname -r)/extra/espintcp.ko
loaded() { [ -d /sys/module/espintcp ]; }

check "espintcp not loaded at boot" sh -c '! [ -d /sys/module/espintcp ]'
check_eq "tcp-ulp-espintcp resolves to extra/espintcp.ko" "insmod $ko" \
	"$(modprobe -n -v tcp-ulp-espintcp 2>&1 | grep 'espintcp\.ko' | sed 's/ *$//')"

for round in 1 2; do
	check "modprobe espintcp (round $round)" modprobe espintcp
	check "/sys/module/espintcp appears (round $round)" loaded
	check_eq "refcnt is 0 with no sockets (round $round)" 0 \
		"$(cat /sys/module/espintcp/refcnt 2>&1)"
	check "lsmod lists espintcp (round $round)" sh -c 'lsmod | grep -q "^espintcp "'
	check "rmmod espintcp (round $round)" rmmod espintcp
	check "/sys/module/espintcp disappears (round $round)" sh -c '! [ -d /sys/module/espintcp ]'
done
