#!/bin/sh
# ESP over TCP through a NAT that passes TCP only, and the mapping change
# the server reports when the client comes back from a new port.
#
#   +-- nat-c --+          +------- nat-r -------+          +-- nat-s --+
#   | 10.0.2.1  |---veth---| 10.0.2.254          |          |           |
#   | 10.9.1.1  |          |          10.0.3.254 |---veth---| 10.0.3.2  |
#   |  (lo)     |          | masquerade to srv;  |          | 10.9.2.1  |
#   +-----------+          | UDP and ESP dropped |          |  (lo)     |
#                          +---------------------+          +-----------+
#
# The server sees the client as 10.0.3.254 and the port NAT gave it.
set -eu
. /tests/guest/lib/netns.sh

KEY=0x0102030405060708090a0b0c0d0e0f1011121314
export PEER_CLI_NS=nat-c PEER_SRV_NS=nat-s PEER_CADDR=10.0.2.1 PEER_SADDR=10.0.3.2
peer_in=/tmp/nat-peer.in

c() { ip netns exec nat-c "$@"; }
r() { ip netns exec nat-r "$@"; }
s() { ip netns exec nat-s "$@"; }

nat_down() {
	for ns in nat-c nat-r nat-s; do ip netns del "$ns" 2>/dev/null || true; done
}

nat_up() {
	nat_down
	for ns in nat-c nat-r nat-s; do
		ip netns add "$ns"
		ip -n "$ns" link set lo up
	done
	ip link add veth0 netns nat-c type veth peer name vc netns nat-r
	ip link add veth0 netns nat-s type veth peer name vs netns nat-r
	ip -n nat-c addr add 10.0.2.1/24 dev veth0
	ip -n nat-r addr add 10.0.2.254/24 dev vc
	ip -n nat-r addr add 10.0.3.254/24 dev vs
	ip -n nat-s addr add 10.0.3.2/24 dev veth0
	for l in "nat-c veth0" "nat-r vc" "nat-r vs" "nat-s veth0"; do
		set -- $l
		ip -n "$1" link set "$2" up
	done
	ip -n nat-c route add default via 10.0.2.254
	r sysctl -qw net.ipv4.ip_forward=1
	r nft -f - <<-EOF
		table ip nat {
			chain post {
				type nat hook postrouting priority srcnat;
				oifname "vs" masquerade
			}
		}
		table ip filter {
			chain drop_udp_esp {
				type filter hook forward priority filter;
				meta l4proto { udp, esp } counter drop
			}
		}
	EOF
	c ip addr add 10.9.1.1/32 dev lo
	s ip addr add 10.9.2.1/32 dev lo
	c ip route add 10.9.2.1/32 via 10.0.2.254 src 10.9.1.1
	s ip route add 10.9.1.1/32 via 10.0.3.254 src 10.9.2.1
}

# peer_start CPORT: sets pub and port, the client as the server sees it
peer_start() {
	rm -f "$peer_in" /tmp/nat-peer.out
	mkfifo "$peer_in"
	/tests/bin/ike_pair 4 "$1" 4500 < "$peer_in" > /tmp/nat-peer.out 2>&1 &
	exec 3> "$peer_in"
	for _i in $(seq 200); do
		grep -q accepted /tmp/nat-peer.out 2>/dev/null && break
		sleep 0.1
	done
	# shellcheck disable=SC2046 # two words: address and port
	set -- $(sed -n 's/^accepted \([0-9.]*\) \([0-9]*\)$/\1 \2/p' /tmp/nat-peer.out)
	pub=${1:-} port=${2:-}
}
peer_stop() { exec 3>&-; sleep 0.2; }

state() { # NS OP SRC DST SPI SPORT DPORT
	ip -n "$1" xfrm state "$2" src "$3" dst "$4" proto esp spi "$5" reqid 7 \
		mode tunnel aead 'rfc4106(gcm(aes))' $KEY 128 \
		encap espintcp "$6" "$7" 0.0.0.0
}

nat_up
modprobe xfrm_user
modprobe espintcp

peer_start 40010
port1=$port
check_eq "the server sees the client behind the NAT" "10.0.3.254" "$pub"

# client: its own address and port; server: what NAT made of them
state nat-c add 10.0.2.1 10.0.3.2 0x701 40010 4500
state nat-c add 10.0.3.2 10.0.2.1 0x702 4500 40010
state nat-s add "$pub" 10.0.3.2 0x701 "$port1" 4500
state nat-s add 10.0.3.2 "$pub" 0x702 4500 "$port1"
c ip xfrm policy add src 10.9.1.1 dst 10.9.2.1 dir out \
	tmpl src 10.0.2.1 dst 10.0.3.2 proto esp reqid 7 mode tunnel
c ip xfrm policy add src 10.9.2.1 dst 10.9.1.1 dir in \
	tmpl src 10.0.3.2 dst 10.0.2.1 proto esp reqid 7 mode tunnel
s ip xfrm policy add src 10.9.2.1 dst 10.9.1.1 dir out \
	tmpl src 10.0.3.2 dst "$pub" proto esp reqid 7 mode tunnel
s ip xfrm policy add src 10.9.1.1 dst 10.9.2.1 dir in \
	tmpl src "$pub" dst 10.0.3.2 proto esp reqid 7 mode tunnel

check "tunnel through the NAT: 3 pings" c ping -c 3 -i 0.2 -W 2 -I 10.9.1.1 10.9.2.1

# the client reconnects from another port and updates its states; its
# next ESP reaches the server from a port the server's state does not know
# not through s(): $! must be ip itself, and it must not hold the fifo (fd 3)
ip netns exec nat-s ip xfrm monitor > /tmp/nat-mapping 2>&1 3>&- &
mon=$!
peer_stop
peer_start 40011
port2=$port
check "client states follow the new port (XFRM_MSG_UPDSA)" sh -c "
	ip -n nat-c xfrm state update src 10.0.2.1 dst 10.0.3.2 proto esp spi 0x701 reqid 7 \
		mode tunnel aead 'rfc4106(gcm(aes))' $KEY 128 encap espintcp 40011 4500 0.0.0.0 &&
	ip -n nat-c xfrm state update src 10.0.3.2 dst 10.0.2.1 proto esp spi 0x702 reqid 7 \
		mode tunnel aead 'rfc4106(gcm(aes))' $KEY 128 encap espintcp 4500 40011 0.0.0.0"
check_eq "the updated states are TCP states on the new port" \
	"10.0.3.2 10.0.2.1 0x00000702 4500 40011|10.0.2.1 10.0.3.2 0x00000701 40011 4500" \
	"$(c cat /proc/net/espintcp_states | sort -r | tr '\n' '|' | sed 's/|$//')"
# the replaced states stay counted until xfrm's GC frees them
check_poll "the update kept the TCP states (2 in the client)" 2 \
	c awk '$1 == "tcp_states" { print $2 }' /proc/net/espintcp
# each ESP packet from the new port is reported (the monitor may not have
# subscribed yet when the first one arrives): ping until the event shows
mapping() { grep -o "10.0.3.254:$port1 -> 10.0.3.254:$port2" /tmp/nat-mapping | head -n 1; }
for _i in $(seq 20); do
	c ping -c 1 -W 1 -I 10.9.1.1 10.9.2.1 >/dev/null 2>&1 || true
	[ -n "$(mapping)" ] && break
done
kill "$mon" 2>/dev/null || true
sed 's/^/# ip xfrm monitor: /' /tmp/nat-mapping
check_eq "the server reports the mapping change (XFRM_MSG_MAPPING)" \
	"10.0.3.254:$port1 -> 10.0.3.254:$port2" "$(mapping)"
check_eq "the NAT dropped no UDP or ESP: none was sent" "0" \
	"$(r nft list chain ip filter drop_udp_esp | sed -n 's/.*counter packets \([0-9]*\).*/\1/p')"

peer_stop
for ns in nat-c nat-s; do
	ip -n "$ns" xfrm policy flush
	ip -n "$ns" xfrm state flush
done
# closed sockets hold the module until TCP is done with them, which takes
# the NAT: tear it down only then, or their FINs go nowhere for minutes
for _i in $(seq 300); do
	[ "$(cat /sys/module/espintcp/refcnt)" = 0 ] && break
	sleep 0.1
done
nat_down
check "module released after the NAT test: rmmod" rmmod_wait
