#!/bin/sh
# ESP over TCP under load, between netns cli and srv (tests/guest/lib/netns.sh: UDP
# and ESP dropped), IPv4 tunnel mode:
#  - 10 000 IKE messages of random sizes (5 to 65533 bytes) on the one
#    connection that also carries a 4 MiB transfer through the tunnel:
#    every IKE byte and every transferred byte arrives intact;
#  - 64 connections at once, each with its own pair of SAs (reqid i) and
#    inner addresses 10.10.i.1 <-> 10.10.i.2: 2 pings each, all at once,
#    and every state counts exactly its own 2 packets.
set -eu
. /tests/guest/lib/netns.sh
. /tests/guest/lib/esp.sh

topo_up
modprobe xfrm_user
modprobe espintcp

# --- 10 000 IKE messages interleaved with bulk ESP ------------------------
peer_start 4 40100 4500 stress 10000
sa_pair tunnel 4 10.0.1.1 10.0.1.2 0x5001 0x5002 40100 4500
cli ip addr add 10.9.1.1/32 dev lo
srv ip addr add 10.9.2.1/32 dev lo
cli ip route add 10.9.2.1/32 via 10.0.1.2 src 10.9.1.1
srv ip route add 10.9.1.1/32 via 10.0.1.1 src 10.9.2.1
policy_pair tunnel 10.9.1.1 10.9.2.1 10.0.1.1 10.0.1.2

ike_tx0=$(ctr cli ike_tx_msgs) ike_rx0=$(ctr srv ike_rx_msgs)
esp_rx0=$(ctr srv esp_rx_msgs)
# drops and stream errors on srv's receive side, summed
srv_rx_drops() {
	ip netns exec srv awk '$1 ~ /^rx_(drop|stream)/ { s += $2 } END { print s }' /proc/net/espintcp
}
drops0=$(srv_rx_drops)

transfer_start 10.9.2.1 4194304
echo go >&3
t0=$(cut -d' ' -f1 /proc/uptime)
for _i in $(seq 1200); do
	grep -q '^stress' "$peer_out" && break
	sleep 0.1
done
echo "# ESP frames received when the IKE stress ended: $(($(ctr srv esp_rx_msgs) - esp_rx0))"
check_eq "10 000 IKE messages of random sizes, byte-exact, during the transfer" \
	"stress 10000 exact" "$(grep '^stress' "$peer_out")"
transfer_wait
echo "# IKE stress and 4 MiB transfer: $(awk -v s="$t0" '{ printf "%.1f", $1 - s }' /proc/uptime)s"
check "4 MiB through the tunnel on the same connection, intact" transfer_intact
check_eq "IKE counters: 10 000 sent by cli, 10 000 queued by srv" "10000 10000" \
	"$(($(ctr cli ike_tx_msgs) - ike_tx0)) $(($(ctr srv ike_rx_msgs) - ike_rx0))"
esp=$(($(ctr srv esp_rx_msgs) - esp_rx0))
echo "# ESP frames interleaved with the IKE messages: $esp"
check "the ESP of the transfer shared the stream (over 1000 frames)" test "$esp" -gt 1000
drops=$(($(srv_rx_drops) - drops0))
check_eq "no frame dropped and no stream error on srv" 0 "$drops"
[ "$drops" = 0 ] || ip netns exec srv cat /proc/net/espintcp /proc/net/xfrm_stat |
	awk '$2 != 0 { print "# srv: " $1 " " $2 }'
check_eq "no UDP or ESP reached the wire" 0 "$(leaked)"
peer_stop
xfrm_flush
cli ip addr del 10.9.1.1/32 dev lo
srv ip addr del 10.9.2.1/32 dev lo

# --- 64 connections, each with its own SAs ---------------------------------
n=64
rm -f /tmp/hold64
mkfifo /tmp/hold64
for i in $(seq "$n"); do
	/tests/bin/ike_pair 4 $((42000 + i)) $((5000 + i)) \
		< /tmp/hold64 > "/tmp/p64.$i" 2>&1 &
done
exec 5> /tmp/hold64
ready=0
for _i in $(seq 300); do
	ready=$(cat /tmp/p64.* | grep -c '^ready' || true)
	[ "$ready" = "$n" ] && break
	sleep 0.1
done
check_eq "$n espintcp connections up" "$n" "$ready"

# side_batch INNER PEER_INNER OUTER PEER_OUTER REQID: one side's inner
# address, route and policies, as ip -batch lines
side_batch() {
	cat <<-EOF
	address add $1/32 dev lo
	route add $2/32 via $4 src $1
	xfrm policy add src $1 dst $2 dir out tmpl src $3 dst $4 proto esp reqid $5 mode tunnel
	xfrm policy add src $2 dst $1 dir in tmpl src $4 dst $3 proto esp reqid $5 mode tunnel
	EOF
}

: > /tmp/cli.batch
: > /tmp/srv.batch
for i in $(seq "$n"); do
	cp=$((42000 + i)) sp=$((5000 + i))
	for f in /tmp/cli.batch /tmp/srv.batch; do
		cat >> "$f" <<-EOF
		xfrm state add src 10.0.1.1 dst 10.0.1.2 proto esp spi $((0x10000 + i)) reqid $i mode tunnel $AEAD encap espintcp $cp $sp 0.0.0.0
		xfrm state add src 10.0.1.2 dst 10.0.1.1 proto esp spi $((0x20000 + i)) reqid $i mode tunnel $AEAD encap espintcp $sp $cp 0.0.0.0
		EOF
	done
	side_batch "10.10.$i.1" "10.10.$i.2" 10.0.1.1 10.0.1.2 "$i" >> /tmp/cli.batch
	side_batch "10.10.$i.2" "10.10.$i.1" 10.0.1.2 10.0.1.1 "$i" >> /tmp/srv.batch
done
check "$n SA pairs, policies and routes in cli" ip -n cli -batch /tmp/cli.batch
check "$n SA pairs, policies and routes in srv" ip -n srv -batch /tmp/srv.batch
# the states flushed above leave the gauge when xfrm's GC frees them
tcp_states() { echo "$(ctr cli tcp_states) $(ctr srv tcp_states)"; }
check_poll "$((2 * n)) TCP states on each side" "$((2 * n)) $((2 * n))" tcp_states

# all pings from one shell in cli; each ping exits 0 once a reply came back
tx0=$(ctr cli esp_tx_msgs) rx0=$(ctr srv esp_rx_msgs)
cli sh -c "
	for i in \$(seq $n); do
		(ping -c 2 -i 0.5 -W 10 -I 10.10.\$i.1 10.10.\$i.2 >/dev/null 2>&1 &&
			echo \$i) &
	done
	wait" > /tmp/ping64
check_eq "pings answered on each of the $n tunnels, all at once" "$n" \
	"$(sort -u /tmp/ping64 | grep -c .)"
# a ping may exit before its second reply: cli's states see them all
check_poll "$((2 * n)) requests as ESP frames, cli -> srv" "$((2 * n)) $((2 * n))" \
	esp_delta cli srv "$tx0" "$rx0"
per_state() { ip -n cli -s xfrm state | grep -c '(bytes), 2(packets)'; }
check_poll "every one of cli's $((2 * n)) states counted its own 2 packets" "$((2 * n))" \
	per_state
check_eq "no UDP or ESP reached the wire" 0 "$(leaked)"

exec 5>&-
wait
xfrm_flush
topo_down
check "module released after the stress: rmmod" rmmod_wait
