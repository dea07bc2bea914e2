#!/bin/sh
# ESP through xfrm over the espintcp connection: `ip xfrm state ... encap
# espintcp` on a stock kernel, IPv4 and IPv6, transport and tunnel mode.
# The veth filters drop all UDP and ESP (tests/guest/lib/netns.sh), so whatever
# reaches the other side went inside the TCP connection.
set -eu
. /tests/guest/lib/netns.sh

. /tests/guest/lib/esp.sh

# --- the stock kernel, before the module -----------------------------------
topo_up
# IKE daemons talk to xfrm over netlink before they set socket policies
modprobe xfrm_user
[ ! -d /sys/module/espintcp ] || rmmod_wait
# xfrm's init_state has an extack since Linux 6.1: before, esp4's refusal
# comes without its message
if [ "$(printf '6.1\n%s\n' "$(uname -r)" | sort -V | head -n 1)" = 6.1 ]; then
	unsupported="Error: Unsupported encapsulation type for ESP."
else
	unsupported="RTNETLINK answers: Invalid argument"
fi
out=$(cli ip xfrm state add src 10.0.1.1 dst 10.0.1.2 proto esp spi 0x10 \
	mode transport $AEAD encap espintcp 40000 4500 0.0.0.0 2>&1 || true)
check_eq "without the module: encap espintcp rejected" "$unsupported" "$out"

# --- other states are untouched ---------------------------------------------
modprobe espintcp
check "plain ESP state" cli ip xfrm state add src 10.0.1.1 dst 10.0.1.2 \
	proto esp spi 0x20 mode transport $AEAD
check "ESP-in-UDP state" cli ip xfrm state add src 10.0.1.1 dst 10.0.1.2 \
	proto esp spi 0x21 mode transport $AEAD encap espinudp 4500 4500 0.0.0.0
check "AH state" cli ip xfrm state add src 10.0.1.1 dst 10.0.1.2 \
	proto ah spi 0x22 mode transport auth 'hmac(sha256)' $KEY
check "IPComp state" cli ip xfrm state add src 10.0.1.1 dst 10.0.1.2 \
	proto comp spi 0x23 mode transport comp deflate
check_eq "ESP-in-UDP state keeps its encap" "espinudp 4500 4500" \
	"$(cli ip xfrm state get src 10.0.1.1 dst 10.0.1.2 proto esp spi 0x21 |
		sed -n 's/.*encap type \([a-z]*\) sport \([0-9]*\) dport \([0-9]*\).*/\1 \2 \3/p')"
check_eq "no TCP states counted" 0 "$(ctr cli tcp_states)"
# their setup held a reference each, dropped a grace period later (xfrm.c)
check "other states do not pin the module: rmmod (retried while their setup's references go)" \
	rmmod_wait
check_eq "the four states outlive the module" 4 \
	"$(cli ip xfrm state | grep -c '^src')"
xfrm_flush

# --- ESP over TCP, each family and mode --------------------------------------
tap_saw() { # PATTERN: in what tcpdump printed, or show all it printed
	grep -q "$1" /tmp/tap.out && return 0
	cat /tmp/tap.out /tmp/tap.err
	return 1
}
run=0
for fam in 4 6; do
	for mode in transport tunnel; do
		run=$((run + 1))
		t="IPv$fam $mode"
		cport=$((40000 + run)) sport=$((4500 + run))
		if [ "$fam" = 4 ]; then
			c=10.0.1.1 s=10.0.1.2 ic=10.9.1.1 is=10.9.2.1 ping=ping
			sel="proto icmp" plen=32
		else
			c=fd00:1::1 s=fd00:1::2 ic=fd09:1::1 is=fd09:2::1 ping=ping6
			sel="proto ipv6-icmp" plen=128
		fi

		modprobe espintcp
		if peer_start "$fam" "$cport" "$sport"; then
			ok "$t: espintcp connection"
		else
			not_ok "$t: espintcp connection"
		fi
		# how an operator finds the tunnel's connection (README)
		check_eq "$t: ss -tie names the ULP of both ends" \
			"tcp-ulp-espintcp tcp-ulp-espintcp" \
			"$(for ns in cli srv; do ip netns exec "$ns" ss -tieH state established |
				grep -o 'tcp-ulp-espintcp'; done | tr '\n' ' ' | sed 's/ $//')"
		sa_pair "$mode" "$fam" "$c" "$s" "0x$run""01" "0x$run""02" "$cport" "$sport"
		check_eq "$t: both states are TCP states" "2 2" \
			"$(ctr cli tcp_states) $(ctr srv tcp_states)"
		check_eq "$t: /proc/net/espintcp_states lists them" \
			"$s $c 0x00000${run}02 $sport $cport|$c $s 0x00000${run}01 $cport $sport" \
			"$(cli cat /proc/net/espintcp_states | sort -r | tr '\n' '|' | sed 's/|$//')"

		if [ "$mode" = transport ]; then
			policy_pair transport "$c" "$s" "$c" "$s" $sel
			dst=$s src=$c
		else
			cli ip addr add "$ic/$plen" dev lo
			srv ip addr add "$is/$plen" dev lo
			cli ip route add "$is/$plen" via "$s" src "$ic"
			srv ip route add "$ic/$plen" via "$c" src "$is"
			policy_pair tunnel "$ic" "$is" "$c" "$s"
			dst=$is src=$ic
		fi

		if [ "$mode" = tunnel ]; then
			# decapsulated packets pass srv's taps on the device again
			if [ "$fam" = 4 ]; then
				f="icmp[icmptype] == icmp-echo"
			else
				f="icmp6 and ip6[40] == 128"
			fi
			srv timeout 20 tcpdump -Z root -i veth0 -nn -e -l -c 1 "$f" \
				> /tmp/tap.out 2> /tmp/tap.err 3>&- &
			tap=$!
			poll_until grep -q "listening on" /tmp/tap.err || true
		fi
		tx0=$(ctr cli esp_tx_msgs) rx0=$(ctr srv esp_rx_msgs)
		btx0=$(ctr srv esp_tx_msgs) brx0=$(ctr cli esp_rx_msgs)
		check "$t: 5 pings through the tunnel" \
			cli "$ping" -c 5 -i 0.2 -W 2 -I "$src" "$dst"
		if [ "$mode" = tunnel ]; then
			wait "$tap" || true
			check "$t: tcpdump on srv's veth0: the decapsulated request, with an Ethernet header" \
				tap_saw "ethertype IPv$fam (0x[0-9a-f]*), length [0-9]*: $src > $dst: ICMP"
		fi
		# ping may exit before a slow last reply: poll for it
		check_poll "$t: 5 requests as ESP frames, cli -> srv" "5 5" \
			esp_delta cli srv "$tx0" "$rx0"
		check_poll "$t: 5 replies as ESP frames, srv -> cli" "5 5" \
			esp_delta srv cli "$btx0" "$brx0"

		if [ "$mode" = tunnel ]; then
			transfer_start "$dst" 307200
			transfer_wait
			check "$t: 300 KiB over TCP through the tunnel, intact" \
				transfer_intact
			# UDP probes to a closed port of srv. Decapsulated packets
			# enter again through veth0, where srv's ingress UDP filter
			# would drop them: lift it; cli's egress filter still drops
			# any UDP that would leave cli outside the tunnel.
			if [ "$fam" = 4 ]; then
				tr=traceroute f=1
				noports() { srv awk '/^Udp: [0-9]/ { print $3 }' /proc/net/snmp; }
			else
				tr=traceroute6 f=3
				noports() { srv awk '$1 == "Udp6NoPorts" { print $2 }' /proc/net/snmp6; }
			fi
			topo_undrop srv ingress "$f"
			u0=$(ctr cli esp_tx_msgs) n0=$(noports)
			cli "$tr" -n -m 1 -q 3 -w 1 -s "$src" "$dst" >/dev/null 2>&1 || true
			noports_delta() { echo $(($(noports) - n0)); }
			check_poll "$t: 3 UDP datagrams through the tunnel" 3 \
				noports_delta
			check_eq "$t: the 3 UDP probes left as 3 ESP frames" 3 \
				"$(($(ctr cli esp_tx_msgs) - u0))"
			check_eq "$t: ESP frames out of cli = into srv" \
				"$(($(ctr cli esp_tx_msgs) - tx0))" \
				"$(($(ctr srv esp_rx_msgs) - rx0))"
		fi
		check_eq "$t: no UDP or ESP reached the wire" 0 "$(leaked)"

		# without the TCP connection, ESP is dropped, not sent as UDP
		peer_stop
		d0=$(ctr cli tx_drop_nosock)
		cli "$ping" -c 2 -i 0.2 -W 1 -I "$src" "$dst" >/dev/null 2>&1 || true
		check_eq "$t: no connection: 2 frames dropped and counted" 2 \
			"$(($(ctr cli tx_drop_nosock) - d0))"
		check_eq "$t: still nothing on the wire" 0 "$(leaked)"

		check "$t: rmmod refused while TCP states exist" \
			sh -c '! rmmod espintcp 2>/dev/null'
		xfrm_flush
		if [ "$mode" = tunnel ]; then
			cli ip addr del "$ic/$plen" dev lo
			srv ip addr del "$is/$plen" dev lo
		fi
		check "$t: rmmod once the states are flushed" rmmod_wait
	done
done

out=$(cli ip xfrm state add src 10.0.1.1 dst 10.0.1.2 proto esp spi 0x10 \
	mode transport $AEAD encap espintcp 40000 4500 0.0.0.0 2>&1 || true)
check_eq "after rmmod: encap espintcp rejected again" "$unsupported" "$out"
check "after rmmod: plain ESP states still work" cli ip xfrm state add \
	src 10.0.1.1 dst 10.0.1.2 proto esp spi 0x11 mode transport $AEAD
xfrm_flush

# --- plain ESP traffic, with the module loaded --------------------------------
topo_up
modprobe espintcp
for ns in cli srv; do
	topo_undrop "$ns" egress 2
	topo_undrop "$ns" ingress 2
done
for ns in cli srv; do
	ip -n "$ns" xfrm state add src 10.0.1.1 dst 10.0.1.2 proto esp spi 0xb01 \
		reqid 1 mode transport $AEAD
	ip -n "$ns" xfrm state add src 10.0.1.2 dst 10.0.1.1 proto esp spi 0xb02 \
		reqid 1 mode transport $AEAD
done
policy_pair transport 10.0.1.1 10.0.1.2 10.0.1.1 10.0.1.2 proto icmp
t0=$(ctr cli esp_tx_msgs)
check "plain ESP with the module loaded: 3 pings" cli ping -c 3 -i 0.2 -W 2 10.0.1.2
check_eq "plain ESP with the module loaded: 3 ESP packets on the wire, none in TCP" \
	"3 0" "$(cli ip -s xfrm state get src 10.0.1.1 dst 10.0.1.2 proto esp spi 0xb01 |
		sed -n 's/^[[:space:]]*[0-9]*(bytes), \([0-9]*\)(packets)$/\1/p') $(($(ctr cli esp_tx_msgs) - t0))"
xfrm_flush
check "plain ESP states do not pin the module: rmmod (retried while their setup's references go)" \
	rmmod_wait

# --- a TCP state takes no ESP that came over UDP ------------------------------
# An IKE daemon's UDP encap socket on the TCP state's port, UDP let through,
# and a peer that sends ESP-in-UDP with the TCP state's SPI and key.
topo_up
modprobe espintcp
rm -f /tmp/udp.in
mkfifo /tmp/udp.in
/tests/bin/udp_encap_sock srv 10.0.1.2 4800 < /tmp/udp.in > /tmp/udp.out 2>&1 &
exec 5> /tmp/udp.in
check "the IKE daemon's UDP encap socket is bound" \
	poll_until grep -q ready /tmp/udp.out
topo_undrop cli egress 1
topo_undrop srv ingress 1
sa srv transport 4 10.0.1.1 10.0.1.2 0xa01 40300 4800
ip -n srv xfrm policy add src 10.0.1.1 dst 10.0.1.2 proto icmp dir in \
	tmpl src 10.0.1.1 dst 10.0.1.2 proto esp reqid 1 mode transport
cli ip xfrm state add src 10.0.1.1 dst 10.0.1.2 proto esp spi 0xa01 reqid 1 \
	mode transport $AEAD encap espinudp 40300 4800 0.0.0.0
cli ip xfrm policy add src 10.0.1.1 dst 10.0.1.2 proto icmp dir out \
	tmpl src 10.0.1.1 dst 10.0.1.2 proto esp reqid 1 mode transport
protoerr() { srv awk '$1 == "XfrmInStateProtoError" { print $2 }' /proc/net/xfrm_stat; }
e0=$(protoerr)
check "ESP-in-UDP for a TCP state: no ping gets through" \
	sh -c '! ip netns exec cli ping -c 3 -i 0.2 -W 1 10.0.1.2'
check_eq "ESP-in-UDP for a TCP state: 3 rejected (XfrmInStateProtoError)" 3 \
	"$(($(protoerr) - e0))"
exec 5>&-
wait
xfrm_flush
check "after the UDP test: rmmod" rmmod_wait

# --- a state deleted, then the socket closed, under a bulk transfer ----------
topo_up
modprobe espintcp
peer_start 4 40200 4700
sa_pair transport 4 10.0.1.1 10.0.1.2 0x951 0x952 40200 4700
policy_pair transport 10.0.1.1 10.0.1.2 10.0.1.1 10.0.1.2 proto tcp
srv timeout 30 iperf3 -s -1 -B 10.0.1.2 >/dev/null 2>&1 3>&- &
check "under load: iperf3 listens in srv" wait_listen srv 5201
tx0=$(ctr cli esp_tx_msgs)
cli timeout 30 iperf3 -c 10.0.1.2 -B 10.0.1.1 -t 20 >/dev/null 2>&1 3>&- &
esp_flowing() { [ $(($(ctr cli esp_tx_msgs) - tx0)) -gt 100 ]; }
check "under load: ESP was flowing (100 frames)" poll_until esp_flowing
check "under load: delete the outbound state" cli ip xfrm state delete \
	src 10.0.1.1 dst 10.0.1.2 proto esp spi 0x951
sleep 0.5
exec 3>&-	# the espintcp socket closes while iperf3 still sends
sleep 0.5
killall iperf3 2>/dev/null || true	# $! would be the cli() subshell
peer_stop
xfrm_flush
check "under load: module released, rmmod" rmmod_wait

# --- netns deleted under traffic ---------------------------------------------
modprobe espintcp
peer_start 4 40100 4600
sa_pair transport 4 10.0.1.1 10.0.1.2 0x901 0x902 40100 4600
policy_pair transport 10.0.1.1 10.0.1.2 10.0.1.1 10.0.1.2 proto icmp
cli ping -c 300 -i 0.01 10.0.1.2 >/dev/null 2>&1 &
sleep 1
topo_down
peer_stop
check "netns deleted under traffic: module released, rmmod" rmmod_wait
exit 0
