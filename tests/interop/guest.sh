#!/bin/sh
# Interoperability with upstream's in-kernel espintcp, between two QEMU
# guests on one link (booted by tests/interop/interop.sh); this script runs in
# both, as "a" or "b" (interop=a|b on the kernel command line).
#
#   +-- guest a: Debian kernel ---+            +-- guest b: reference kernel -+
#   |   + espintcp.ko             |            |   CONFIG_INET_ESPINTCP=y     |
#   |   eth0 10.0.9.1/24          |   QEMU     |   eth0 10.0.9.2/24           |
#   |        fd00:9::1/64  -------+--socket----+------- fd00:9::2/64          |
#   |   lo   10.9.1.1 fd09:1::1   |  netdev    |   lo   10.9.2.1 fd09:2::1    |
#   +-----------------------------+            +------------------------------+
#
#   On a's eth0, ingress and egress, UDP, ESP and IPv6 fragments are
#   dropped (filters as in tests/guest/lib/netns.sh), so only TCP carries IKE and ESP.
#
# Eight runs: the client on a, then on b; IPv4 and IPv6; transport and
# tunnel mode. In each, ike_node makes the connection and 8 byte-exact IKE
# exchanges (36 to 65533 bytes, real IKEv2 headers); both sides install the two ESP states
# (encap espintcp on the connection's ports) and policies; the client pings
# the server 5 times through them, and a's module counters must show exactly
# those 5 requests and 5 replies as ESP in the stream. a also captures
# everything on eth0 for tshark on the host (/tmp/capture.pcap).
set -u
. /tests/guest/lib/netns.sh

me=$(sed -n 's/.* interop=\([ab]\).*/\1/p' /proc/cmdline)
[ -n "$me" ] || { echo "no interop=a|b on the kernel command line"; exit 1; }
peer=b
[ "$me" = b ] && peer=a
n4() { [ "$1" = a ] && echo 10.0.9.1 || echo 10.0.9.2; }
n6() { [ "$1" = a ] && echo fd00:9::1 || echo fd00:9::2; }
i4() { [ "$1" = a ] && echo 10.9.1.1 || echo 10.9.2.1; }
i6() { [ "$1" = a ] && echo fd09:1::1 || echo fd09:2::1; }
key=0x$(printf '%040x' 0x1234567890abcdef)

ctr() { awk -v k="$1" '$1 == k { print $2 }' /proc/net/espintcp; }
# ESP frames a's module sent and received since tx0 and rx0 were read
esp_delta() { echo "$(($(ctr esp_tx_msgs) - tx0)) $(($(ctr esp_rx_msgs) - rx0))"; }

dev=eth0
[ "$me" = a ] && modprobe e1000	# built into b
for _i in $(seq 50); do
	ip link show "$dev" >/dev/null 2>&1 && break
	sleep 0.1
done
ip link set "$dev" up
ip addr add "$(n4 "$me")/24" dev "$dev"
ip addr add "$(n6 "$me")/64" dev "$dev" nodad
ip addr add "$(i4 "$me")/32" dev lo
ip addr add "$(i6 "$me")/128" dev lo
ip route add "$(i4 "$peer")/32" via "$(n4 "$peer")"
ip route add "$(i6 "$peer")/128" via "$(n6 "$peer")"

if [ "$me" = a ]; then
	modprobe espintcp
	modprobe xfrm_user
	tc qdisc add dev "$dev" clsact
	pref=0
	for dir in ingress egress; do
		for m in "ip 17 ip protocol 17" "ip 50 ip protocol 50" \
			"ipv6 17 ip6 protocol 17" "ipv6 50 ip6 protocol 50" \
			"ipv6 44 ip6 protocol 44"; do
			# shellcheck disable=SC2086 # split into words on purpose
			set -- $m
			pref=$((pref + 1))
			tc filter add dev "$dev" "$dir" protocol "$1" pref "$pref" \
				u32 match "$3" "$4" "$5" 0xff action drop
		done
	done
	# a buffer larger than the whole capture: the kernel drops none
	tcpdump -i "$dev" -s 0 -B 16384 -U --immediate-mode -Z root \
		-w /tmp/capture.pcap tcp 2>/tmp/tcpdump.log &
	tcpdump=$!
	check "tcpdump captures eth0" poll_until grep -q 'listening on' /tmp/tcpdump.log
else
	check_eq "the kernel has espintcp built in (TCP ULP list)" yes \
		"$(grep -qw espintcp /proc/sys/net/ipv4/tcp_available_ulp && echo yes)"
fi
# the link is up when the peer answers
for _i in $(seq 100); do
	ping -c 1 -W 1 "$(n4 "$peer")" >/dev/null 2>&1 && break
done
check "the peer answers on the link" ping -c 1 -W 2 "$(n4 "$peer")"

# wait_line FILE TEXT: until TEXT is a line of FILE (60 s)
wait_line() {
	for _i in $(seq 600); do
		grep -qx "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

policies() { # MODE L R OUTER_L OUTER_R SELECTOR...
	_m=$1 _l=$2 _r=$3 _ol=$4 _or=$5
	shift 5
	ip xfrm policy add src "$_l" dst "$_r" "$@" dir out \
		tmpl src "$_ol" dst "$_or" proto esp mode "$_m"
	ip xfrm policy add src "$_r" dst "$_l" "$@" dir in \
		tmpl src "$_or" dst "$_ol" proto esp mode "$_m"
}

# after a failure: what xfrm says (both guests print theirs)
xfrm_diag() {
	{
		grep -v '[[:space:]]0$' /proc/net/xfrm_stat 2>/dev/null
		ip -s xfrm state | grep -E 'src|spi|lifetime current|bytes'
		grep -E '^(Icmp|Icmp6|Ip):' /proc/net/snmp
	} | sed 's/^/# /'
}

run=0
for client in a b; do
	for fam in 4 6; do
		for mode in transport tunnel; do
			run=$((run + 1))
			t="run $run: client $client, IPv$fam $mode"
			l=$(n$fam "$me") r=$(n$fam "$peer")
			cport=$((41000 + run)) sport=4500
			if [ "$client" = "$me" ]; then
				lport=$cport rport=$sport
				spi_out=0x$((100 + run)) spi_in=0x$((200 + run))
			else
				lport=$sport rport=$cport
				spi_out=0x$((200 + run)) spi_in=0x$((100 + run))
			fi
			sel="proto icmp"
			[ "$fam" = 6 ] && sel="proto ipv6-icmp"

			rm -f /tmp/node.out /tmp/node.in
			mkfifo /tmp/node.in
			if [ "$client" = "$me" ]; then
				/tests/bin/ike_node client "$l" "$lport" "$r" "$rport" 8 \
					< /tmp/node.in > /tmp/node.out 2>&1 &
			else
				/tests/bin/ike_node server "$l" "$lport" 8 \
					< /tmp/node.in > /tmp/node.out 2>&1 &
			fi
			node=$!
			exec 4> /tmp/node.in
			if ! wait_line /tmp/node.out ready; then
				not_ok "$t: 8 IKE exchanges, byte-exact"
				sed 's/^/# /' /tmp/node.out
				exec 4>&-
				wait "$node"
				continue
			fi
			ok "$t: 8 IKE exchanges, byte-exact"

			ip xfrm state add src "$l" dst "$r" proto esp spi "$spi_out" \
				aead 'rfc4106(gcm(aes))' "$key" 128 mode "$mode" \
				encap espintcp "$lport" "$rport" 0.0.0.0
			ip xfrm state add src "$r" dst "$l" proto esp spi "$spi_in" \
				aead 'rfc4106(gcm(aes))' "$key" 128 mode "$mode" \
				encap espintcp "$rport" "$lport" 0.0.0.0
			if [ "$mode" = transport ]; then
				# shellcheck disable=SC2086 # "proto icmp": two words
				policies transport "$l" "$r" "$l" "$r" $sel
				dst=$r src=$l
			else
				policies tunnel "$(i$fam "$me")" "$(i$fam "$peer")" "$l" "$r"
				dst=$(i$fam "$peer") src=$(i$fam "$me")
			fi
			[ "$me" = a ] && tx0=$(ctr esp_tx_msgs) rx0=$(ctr esp_rx_msgs)

			if [ "$client" = "$me" ]; then
				if wait_line /tmp/node.out peer-ready; then
					if out=$(ping -c 5 -i 0.2 -W 5 -I "$src" "$dst" 2>&1); then
						ok "$t: 5 pings through the ESP states"
					else
						not_ok "$t: 5 pings through the ESP states"
						printf '%s\n' "$out" | sed 's/^/# /'
						xfrm_diag
					fi
				else
					not_ok "$t: the server installed its states"
				fi
				exec 4>&-
				wait "$node"
				rc=$?
			else
				echo go >&4
				# the client closes the connection when it is done
				for _i in $(seq 600); do
					kill -0 "$node" 2>/dev/null || break
					sleep 0.1
				done
				exec 4>&-
				wait "$node"
				rc=$?
			fi
			check_eq "$t: ike_node exit status" 0 "$rc"
			grep -v '^ike \|^ready$\|^peer-ready$' /tmp/node.out | sed 's/^/# /'
			if [ "$me" = a ]; then
				check_poll "$t: a's module moved 5 ESP frames each way" "5 5" \
					esp_delta
			fi
			# the server cannot tell whether the client's pings failed
			[ "$client" != "$me" ] && [ "$mode" = transport ] && xfrm_diag
			ip xfrm policy flush
			ip xfrm state flush
		done
	done
done

if [ "$me" = a ]; then
	dropped=$(tc -s filter show dev "$dev" ingress; tc -s filter show dev "$dev" egress)
	check_eq "no UDP or ESP on the link (tc drop counters)" 0 \
		"$(printf '%s\n' "$dropped" | sed -n 's/.*(dropped \([0-9]*\),.*/\1/p' | awk '{ s += $1 } END { print s + 0 }')"
	# -U writes each packet as it comes: done once the file stops growing
	size=-1
	while [ "$size" != "$(wc -c < /tmp/capture.pcap)" ]; do
		size=$(wc -c < /tmp/capture.pcap)
		sleep 0.5
	done
	kill "$tcpdump"
	wait "$tcpdump"
	sed 's/^/# tcpdump: /' /tmp/tcpdump.log
	check_eq "tcpdump captured every packet (none dropped by kernel)" 0 \
		"$(sed -n 's/^\([0-9]*\) packets\{0,1\} dropped by kernel$/\1/p' /tmp/tcpdump.log)"
fi
