#!/bin/sh
# make run: IKE messages over a TCP connection through the espintcp ULP,
# then ESP from xfrm over another, client netns cli -> server netns srv
# (not a test: the init runs it only with harness=demo on the kernel
# command line).
set -eu
. /tests/guest/lib/netns.sh

step() { printf '\n=== %s\n' "$*"; }

step "Topology: two network namespaces joined by a veth pair"
sed -n '/^#   +/,/^#   so only/p' /tests/guest/lib/netns.sh | sed 's/^#//'
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

step "IKE over TCP (tests/guest/ike_demo.c)"
rc=0
/tests/bin/ike_demo || rc=$?

step "ESP over the same kind of connection: ip xfrm state ... encap espintcp"
KEY=0x0102030405060708090a0b0c0d0e0f1011121314
modprobe xfrm_user
mkfifo /tmp/demo.in
/tests/bin/ike_pair 4 40000 4500 < /tmp/demo.in > /tmp/demo.out &
exec 3> /tmp/demo.in
sleep 1
echo "client 10.0.1.1:40000 -> server 10.0.1.2:4500: $(grep -c ready /tmp/demo.out) connection, IKETCP + ULP"
for ns in cli srv; do
	ip -n "$ns" xfrm state add src 10.0.1.1 dst 10.0.1.2 proto esp spi 0x1001 \
		mode transport aead 'rfc4106(gcm(aes))' $KEY 128 encap espintcp 40000 4500 0.0.0.0
	ip -n "$ns" xfrm state add src 10.0.1.2 dst 10.0.1.1 proto esp spi 0x1002 \
		mode transport aead 'rfc4106(gcm(aes))' $KEY 128 encap espintcp 4500 40000 0.0.0.0
done
for dir in "cli 10.0.1.1 10.0.1.2" "srv 10.0.1.2 10.0.1.1"; do
	set -- $dir
	ip -n "$1" xfrm policy add src "$2" dst "$3" proto icmp dir out \
		tmpl src "$2" dst "$3" proto esp mode transport
	ip -n "$1" xfrm policy add src "$3" dst "$2" proto icmp dir in \
		tmpl src "$3" dst "$2" proto esp mode transport
done
echo "cli: ip xfrm state accepted 'encap espintcp'; TCP states: $(cli cat /proc/net/espintcp_states | tr '\n' ';')"
cli ping -c 3 -i 0.3 10.0.1.2 | grep -E 'bytes from|transmitted'
echo "ESP frames cli -> srv: $(cli awk '$1 == "esp_tx_msgs" { print $2 }' /proc/net/espintcp) sent," \
	"$(srv awk '$1 == "esp_rx_msgs" { print $2 }' /proc/net/espintcp) received inside the TCP stream"
echo "raw ESP/UDP dropped by the link filters: $(tc_dropped cli egress 1) UDP, $(tc_dropped cli egress 2) ESP (none was sent)"
exec 3>&-
wait
for ns in cli srv; do ip -n "$ns" xfrm policy flush; ip -n "$ns" xfrm state flush; done

step "Module state after the demo"
lsmod | grep '^espintcp ' || echo "espintcp: not loaded"
topo_down
step "Demo $( [ "$rc" = 0 ] && echo finished || echo FAILED )"
exit "$rc"
