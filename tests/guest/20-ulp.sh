#!/bin/sh
# The espintcp ULP's socket semantics and its wire format, IPv4 and IPv6,
# between netns cli and srv (see tests/guest/lib/netns.sh): tests/guest/ulp_test.c.
set -eu
. /tests/guest/lib/netns.sh

# the first test wants to see setsockopt(TCP_ULP) load the module itself
[ ! -d /sys/module/espintcp ] || rmmod_wait
topo_up
rc=0
/tests/bin/ulp_test || rc=$?
topo_down
exit "$rc"
