#!/bin/sh
# The guest booted with ipv6.disable=1 (check.sh's second boot of each
# kernel): the module loads, says once that it serves IPv4 only, and ESP
# over TCP works in both modes over IPv4.
set -eu
. /tests/guest/lib/netns.sh
. /tests/guest/lib/esp.sh

check "IPv6 is disabled in this guest" sh -c '! [ -d /proc/sys/net/ipv6 ]'
topo_up
modprobe xfrm_user
check "modprobe espintcp" modprobe espintcp
check_eq "dmesg says once that IPv6 is not served" 1 \
	"$(dmesg | grep -c 'espintcp: IPv6 is disabled: serving IPv4 only')"
check "the ULP is offered" sh -c 'grep -qw espintcp /proc/sys/net/ipv4/tcp_available_ulp'

run=0
for mode in transport tunnel; do
	run=$((run + 1))
	cport=$((40500 + run)) sport=$((4900 + run))
	if peer_start 4 "$cport" "$sport"; then
		ok "IPv4 $mode: espintcp connection"
	else
		not_ok "IPv4 $mode: espintcp connection"
	fi
	sa_pair "$mode" 4 10.0.1.1 10.0.1.2 "0x7${run}01" "0x7${run}02" "$cport" "$sport"
	if [ "$mode" = transport ]; then
		policy_pair transport 10.0.1.1 10.0.1.2 10.0.1.1 10.0.1.2 proto icmp
		src=10.0.1.1 dst=10.0.1.2
	else
		cli ip addr add 10.9.1.1/32 dev lo
		srv ip addr add 10.9.2.1/32 dev lo
		cli ip route add 10.9.2.1/32 via 10.0.1.2 src 10.9.1.1
		srv ip route add 10.9.1.1/32 via 10.0.1.1 src 10.9.2.1
		policy_pair tunnel 10.9.1.1 10.9.2.1 10.0.1.1 10.0.1.2
		src=10.9.1.1 dst=10.9.2.1
	fi
	tx0=$(ctr cli esp_tx_msgs) rx0=$(ctr srv esp_rx_msgs)
	check "IPv4 $mode: 3 pings through ESP over TCP" \
		cli ping -c 3 -i 0.2 -W 2 -I "$src" "$dst"
	check_poll "IPv4 $mode: 3 requests as ESP frames, cli -> srv" "3 3" \
		esp_delta cli srv "$tx0" "$rx0"
	check_eq "IPv4 $mode: no UDP or ESP reached the wire" 0 "$(leaked)"
	peer_stop
	xfrm_flush
	check "IPv4 $mode: rmmod once the states are flushed" rmmod_wait
	modprobe espintcp
done
rmmod_wait
topo_down
exit 0
