#!/bin/sh
# The guest booted with ipv6.disable=1 and slub_debug=FZP (check.sh's
# second boot of each kernel): the module loads, says once that it serves
# IPv4 only, and ESP over TCP works in both modes over IPv4. And a TCP
# state that outlives its netns is destroyed without touching the netns's
# freed memory, which this boot poisons.
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

# A TCP state can outlive its netns: a bundle or a packet may hold it past
# xfrm's exit, and its destructor then runs after the netns's memory (the
# module's per-netns data with it) is freed. xfrm_hold.ko holds one so.
# SLUB poisons freed objects in this boot: a destructor that touched the
# freed memory would spin on a poisoned lock or overwrite the poison, and
# the kernel log would say so.
held() { cut -d' ' -f"$1" /proc/xfrm_hold; } # 1: the state, 2: netns exits
if [ "$(cat /sys/kernel/slab/kmalloc-1k/poison 2>/dev/null)" != 1 ]; then
	skip "a TCP state outlives its netns" "freed slab objects are not poisoned (boot without slub_debug=P)"
else
	insmod /tests/kmod/xfrm_hold.ko
	ip netns add held
	ip -n held xfrm state add src 10.0.1.1 dst 10.0.1.2 proto esp \
		spi 0x7301 reqid 1 mode transport $AEAD \
		encap espintcp 40600 4950 0.0.0.0
	check_eq "outliving its netns: the state is a TCP state" 1 "$(ctr held tcp_states)"
	check "outliving its netns: xfrm_hold.ko holds the state" \
		ip netns exec held sh -c 'echo hold 10.0.1.2 7301 > /proc/xfrm_hold'
	ip netns del held
	check_poll "outliving its netns: xfrm's exit deleted the state" dead \
		held 1
	# netns cleanups run one at a time: once the next one has begun, the
	# held state's netns is freed
	e=$(held 2)
	ip netns add next
	ip netns del next
	check_poll "outliving its netns: the netns is freed (the next one's exit began)" \
		$((e + 1)) held 2
	check "outliving its netns: the last reference dropped, the destructor runs" \
		sh -c 'echo put > /proc/xfrm_hold'
	check_eq "outliving its netns: nothing held" none "$(held 1)"
	check "outliving its netns: rmmod (the state's reference on the module is gone)" \
		rmmod_wait
	rmmod xfrm_hold
	modprobe espintcp
fi
rmmod_wait
topo_down
exit 0
