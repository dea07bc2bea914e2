#!/bin/sh
# The topology of tests/guest/lib/netns.sh: TCP and ICMP cross the link, UDP and ESP
# are dropped by the tc filters in both directions, and each filter counts
# exactly the packets it dropped. Each drop is checked three ways: the
# sender's filter counts it, the receiver's counters show nothing arrived,
# and (positive control) with the filters removed the same probe does arrive.
set -eu
. /tests/guest/lib/netns.sh

udp4_noports() { srv awk '/^Udp: [0-9]/ { print $3 }' /proc/net/snmp; }
udp6_noports() { srv awk '$1 == "Udp6NoPorts" { print $2 }' /proc/net/snmp6; }
esp_nostates() { srv awk '$1 == "XfrmInNoStates" { print $2 }' /proc/net/xfrm_stat; }
# N UDP probes (traceroute: one hop, N queries, to closed ports)
udp4_probe() { cli traceroute -n -m 1 -q "$1" -w 1 10.0.1.2 >/dev/null 2>&1 || true; }
udp6_probe() { cli traceroute6 -n -m 1 -q "$1" -w 1 fd00:1::2 >/dev/null 2>&1 || true; }
# N pings from cli, one per ping run: a packet dropped on egress fails the
# sendto() with ENOBUFS, which ends busybox ping. With esp_sa set up below,
# each ping is one ESP packet. Fails if any ping got no reply.
pings() { # PING DST N
	_r=0
	for _i in $(seq "$3"); do
		cli "$1" -c 1 -W 1 "$2" >/dev/null 2>&1 || _r=1
	done
	return $_r
}
ping4() { pings ping 10.0.1.2 "$1"; }
ping6() { pings ping6 fd00:1::2 "$1"; }

esp_sa() { # transport-mode ESP from cli for pings only (ND and ARP stay clear)
	cli ip xfrm state add src 10.0.1.1 dst 10.0.1.2 proto esp spi 0x100 \
		mode transport aead 'rfc4106(gcm(aes))' 0x0102030405060708090a0b0c0d0e0f1011121314 128
	cli ip xfrm policy add src 10.0.1.1 dst 10.0.1.2 proto icmp dir out \
		tmpl proto esp mode transport
	cli ip xfrm state add src fd00:1::1 dst fd00:1::2 proto esp spi 0x101 \
		mode transport aead 'rfc4106(gcm(aes))' 0x0102030405060708090a0b0c0d0e0f1011121314 128
	cli ip xfrm policy add src fd00:1::1 dst fd00:1::2 proto ipv6-icmp type 128 dir out \
		tmpl proto esp mode transport
}

topo_up
check "netns cli and srv exist" sh -c 'ip netns list | grep -q "^cli" && ip netns list | grep -q "^srv"'
check "ping cli -> srv (IPv4)" ping4 3
check "ping cli -> srv (IPv6)" ping6 3
check_eq "ping did not touch the drop filters" "0 0 0 0" \
	"$(tc_dropped cli egress 1) $(tc_dropped cli egress 3) $(tc_dropped srv ingress 1) $(tc_dropped srv ingress 3)"

# TCP, both families
srv sh -c 'timeout 30 nc -l -p 4000 > /tmp/tcp4.out' &
srvpid=$!
wait_listen srv 4000 || true
echo hello-tcp4 | cli nc -w 2 10.0.1.2 4000 || true
wait $srvpid || true
check_eq "TCP crosses the link (IPv4)" hello-tcp4 "$(cat /tmp/tcp4.out)"
srv sh -c 'timeout 30 nc -l -p 4001 > /tmp/tcp6.out' &
srvpid=$!
wait_listen srv 4001 || true
echo hello-tcp6 | cli nc -w 2 fd00:1::2 4001 || true
wait $srvpid || true
check_eq "TCP crosses the link (IPv6)" hello-tcp6 "$(cat /tmp/tcp6.out)"

# UDP over IPv4
n0=$(udp4_noports)
udp4_probe 3
check_eq "UDP/IPv4: cli egress filter dropped 3" 3 "$(tc_dropped cli egress 1)"
check_eq "UDP/IPv4: nothing reached srv" "$n0" "$(udp4_noports)"
topo_undrop cli egress 1
udp4_probe 2
check_eq "UDP/IPv4: srv ingress filter dropped 2" 2 "$(tc_dropped srv ingress 1)"
check_eq "UDP/IPv4: still nothing reached srv" "$n0" "$(udp4_noports)"
topo_undrop srv ingress 1
udp4_probe 1
check_eq "UDP/IPv4 control: without filters 1 probe arrives" "$((n0 + 1))" "$(udp4_noports)"

# UDP over IPv6
n0=$(udp6_noports)
udp6_probe 3
check_eq "UDP/IPv6: cli egress filter dropped 3" 3 "$(tc_dropped cli egress 3)"
check_eq "UDP/IPv6: nothing reached srv" "$n0" "$(udp6_noports)"
topo_undrop cli egress 3
udp6_probe 2
check_eq "UDP/IPv6: srv ingress filter dropped 2" 2 "$(tc_dropped srv ingress 3)"
check_eq "UDP/IPv6: still nothing reached srv" "$n0" "$(udp6_noports)"
topo_undrop srv ingress 3
udp6_probe 1
check_eq "UDP/IPv6 control: without filters 1 probe arrives" "$((n0 + 1))" "$(udp6_noports)"

# UDP from srv to cli (the other direction, fresh topology)
topo_up
srv traceroute -n -m 1 -q 2 -w 1 10.0.1.1 >/dev/null 2>&1 || true
srv traceroute6 -n -m 1 -q 2 -w 1 fd00:1::1 >/dev/null 2>&1 || true
check_eq "UDP srv -> cli: srv egress filters dropped 2+2" "2 2" \
	"$(tc_dropped srv egress 1) $(tc_dropped srv egress 3)"

# ESP, both families
topo_up
esp_sa
n0=$(esp_nostates)
if ping4 3; then not_ok "ESP/IPv4: ping through ESP fails"; else ok "ESP/IPv4: ping through ESP fails"; fi
check_eq "ESP/IPv4: cli egress filter dropped 3" 3 "$(tc_dropped cli egress 2)"
topo_undrop cli egress 2
ping4 2 || true
check_eq "ESP/IPv4: srv ingress filter dropped 2" 2 "$(tc_dropped srv ingress 2)"
check_eq "ESP/IPv4: nothing reached srv's xfrm" "$n0" "$(esp_nostates)"
topo_undrop srv ingress 2
ping4 1 || true
check_eq "ESP/IPv4 control: without filters 1 packet arrives" "$((n0 + 1))" "$(esp_nostates)"

n0=$(esp_nostates)
if ping6 3; then not_ok "ESP/IPv6: ping through ESP fails"; else ok "ESP/IPv6: ping through ESP fails"; fi
check_eq "ESP/IPv6: cli egress filter dropped 3" 3 "$(tc_dropped cli egress 4)"
topo_undrop cli egress 4
ping6 2 || true
check_eq "ESP/IPv6: srv ingress filter dropped 2" 2 "$(tc_dropped srv ingress 4)"
check_eq "ESP/IPv6: nothing reached srv's xfrm" "$n0" "$(esp_nostates)"
topo_undrop srv ingress 4
ping6 1 || true
check_eq "ESP/IPv6 control: without filters 1 packet arrives" "$((n0 + 1))" "$(esp_nostates)"

# IPv6 fragments (a fragmented UDP or ESP datagram would hide its protocol)
topo_up
cli ping6 -c 1 -W 1 -s 2000 fd00:1::2 >/dev/null 2>&1 || true
check_eq "IPv6 fragments: a 2000-byte ping is 2 dropped fragments" 2 "$(tc_dropped cli egress 5)"

# Shaping keeps the filters and limits the rate
topo_up
topo_shape 10mbit
check "topo_shape: tbf on both ends" sh -c \
	'tc -n cli qdisc show dev veth0 | grep -q "tbf.*rate 10Mbit" && tc -n srv qdisc show dev veth0 | grep -q "tbf.*rate 10Mbit"'
check "topo_shape: ping still passes" ping4 1
udp4_probe 1
check_eq "topo_shape: UDP still dropped" 1 "$(tc_dropped cli egress 1)"
srv iperf3 -s -1 -D -B 10.0.1.2 >/dev/null 2>&1
wait_listen srv 5201 || true
bps=$(cli iperf3 -c 10.0.1.2 -t 3 -f m 2>&1 | awk '/receiver/ { print $7 }')
echo "# iperf3 over tbf 10mbit: ${bps:-?} Mbit/s"
check "topo_shape: iperf3 receiver rate <= 10.5 Mbit/s (got ${bps:-none})" \
	awk -v r="${bps:-x}" 'BEGIN { exit !(r ~ /^[0-9.]+$/ && r > 0 && r <= 10.5) }'
topo_unshape
check "topo_unshape: no tbf left" sh -c '! tc -n cli qdisc show dev veth0 | grep -q tbf'

topo_down
topo_down
check_eq "topo_down removes everything (twice is fine)" "" "$(ip netns list)"
