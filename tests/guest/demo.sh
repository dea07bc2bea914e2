#!/bin/sh
# make run: IKE messages over one TCP connection through the espintcp ULP,
# client netns cli -> server netns srv (not a test: the init runs it only
# with harness=demo on the kernel command line).
set -eu
. /tests/netns.sh

step() { printf '\n=== %s\n' "$*"; }

step "Topology: two network namespaces joined by a veth pair"
sed -n '/^#   +/,/^#   so only/p' /tests/netns.sh | sed 's/^#//'
topo_up
for ns in cli srv; do
	echo "$ns: $(ip -n "$ns" -br addr show dev veth0)"
done

step "UDP and ESP cannot cross the link; TCP can"
cli ping -c 1 -W 2 10.0.1.2 | grep 'packets transmitted'
for ns in cli srv; do
	echo "$ns veth0: $(tc -n "$ns" filter show dev veth0 ingress | grep -c 'action drop') drop filters on ingress," \
		"$(tc -n "$ns" filter show dev veth0 egress | grep -c 'action drop') on egress (UDP, ESP, IPv6 fragments)"
done

step "Is espintcp loaded? (the first setsockopt(TCP_ULP, \"espintcp\") loads it)"
lsmod | grep '^espintcp ' || echo "espintcp: not loaded"

step "IKE over TCP (tests/ike_demo.c)"
rc=0
/tests/bin/ike_demo || rc=$?

step "Module state after the demo"
lsmod | grep '^espintcp ' || echo "espintcp: not loaded"
topo_down
step "Demo $( [ "$rc" = 0 ] && echo finished || echo FAILED )"
exit "$rc"
