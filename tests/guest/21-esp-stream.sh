#!/bin/sh
# ESP in the stream, IPv4 and IPv6, between netns cli and srv (see
# tests/guest/lib/netns.sh): tests/guest/esp_stream_test.c. The modules are loaded first,
# as an IKE daemon has them before it adds states: the counters the tests
# snapshot exist from the start.
set -eu
. /tests/guest/lib/netns.sh

modprobe xfrm_user
modprobe espintcp
topo_up
rc=0
/tests/bin/esp_stream_test || rc=$?
topo_down
exit "$rc"
