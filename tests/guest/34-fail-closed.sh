#!/bin/sh
# Fail closed: ESP of a TCP state leaves only inside its TCP connection,
# whatever the control plane does while asynchronous crypto holds its
# packets, and no datagram that carries a live TCP state's SPI to its peer
# leaves as UDP or ESP, whoever built it.
#
# 1. Under pcrypt, UDP floods through a TCP state while loops, one after
#    the other, move its encap port away and back (update), delete and add
#    it again, and migrate it with the encap a dump shows (espinudp) on
#    other ports and back. The veth filters see no UDP and no ESP leave;
#    what had no connection is counted (tx_drop_*); the SA carries ESP in
#    TCP afterwards.
# 2. From uid 65534: a datagram from the connection's own port to the
#    peer's encap port, starting with the outbound SPI, alone, through an
#    IPComp state too small to compress, through IPComp then ESP in tunnel
#    mode, and (IPv6) through AH. It never enters the stream. Alone, xfrm
#    did not transform it and it leaves as UDP (no error may tell the user
#    the SPI is in use); passed on by IPComp or AH, the guard drops it
#    silently (tx_drop_guard). A TCP state cannot be offloaded.
# 3. ESP for a TCP state that comes through a connection from another
#    address than the state's peer is dropped by the state's input
#    (rx_drop_other_peer; XfrmInStateProtoError), before esp4/esp6 could
#    report a mapping change.
set -eu
. /tests/guest/lib/netns.sh
. /tests/guest/lib/esp.sh

modprobe xfrm_user
[ ! -d /sys/module/espintcp ] || rmmod_wait
bin=/tests/bin
nobody=65534
ROUNDS=${FAIL_CLOSED_ROUNDS:-15}

fam_vars() { # FAMILY
	if [ "$1" = 4 ]; then
		c=10.0.1.1 s=10.0.1.2 udpf=1 espf=2
	else
		c=fd00:1::1 s=fd00:1::2 udpf=3 espf=4
	fi
}

egress() { # NS FILTER: packets its egress filter stopped
	tc_dropped "$1" egress "$2"
}

# --- 1. asynchronous crypto under churn -----------------------------------
spo_up() { # DPORT: cli's outbound TCP state to another encap port
	cli ip xfrm state update src "$c" dst "$s" proto esp spi "$spo" \
		reqid 1 mode transport $AEAD encap espintcp "$cport" "$1" 0.0.0.0
}
migrate() { # ENCAP SPORT DPORT
	cli $bin/xfrm_migrate "$fam" out "$c" "$s" "$c" "$s" 1 "$@"
}
# the three kinds of round; what fails is printed, for the tally
round_update() {
	spo_up 4501 || echo "update to 4501 failed"
	spo_up "$sport" || echo "update back failed"
}
round_readd() {
	cli ip xfrm state delete src "$c" dst "$s" proto esp spi "$spo" ||
		echo "delete failed"
	sa cli transport "$fam" "$c" "$s" "$spo" "$cport" "$sport" ||
		echo "add failed"
}
round_migrate() {
	[ "$(migrate espinudp "$cport" 4501)" = ok ] ||
		echo "migrate to 4501 failed"
	[ "$(migrate espinudp "$cport" "$sport")" = ok ] ||
		echo "migrate back failed"
}

churn_test() { # FAMILY
	fam=$1
	fam_vars "$fam"
	t="IPv$fam async crypto under churn"
	cport=$((44000 + fam)) sport=$((4700 + fam))
	spo=0x${fam}a01 spi=0x${fam}a02
	topo_up
	modprobe espintcp
	if peer_start "$fam" "$cport" "$sport"; then
		ok "$t: espintcp connection"
	else
		not_ok "$t: espintcp connection"
	fi
	sa_pair transport "$fam" "$c" "$s" "$spo" "$spi" "$cport" "$sport"
	policy_pair transport "$c" "$s" "$c" "$s"

	for kind in update readd migrate; do
		tx0=$(ctr cli esp_tx_msgs) n0=$(ctr cli tx_drop_nosock)
		e0=$(ctr cli tx_drop_error) g0=$(ctr cli tx_drop_guard)
		l0=$(leaked)
		# two floods, so that packets wait in pcrypt whenever the loop acts
		for port in 9 10; do
			(
				exec 3>&-
				exec ip netns exec cli $bin/udp_blast "$fam" "$s" "$port" 400000 200 0
			) > /dev/null 2>&1 &
		done
		sleep 1
		fails=$(for _r in $(seq "$ROUNDS"); do "round_$kind" 2>&1; done |
			sort | uniq -c | tr -s ' ' | paste -sd, -)
		# shellcheck disable=SC2046
		kill $(pidof udp_blast) 2>/dev/null || true
		check_eq "$t: $ROUNDS rounds of $kind" "" "$fails"
		sleep 1
		echo "# $kind: ESP frames into TCP $(($(ctr cli esp_tx_msgs) - tx0)), dropped:" \
			"no connection $(($(ctr cli tx_drop_nosock) - n0))," \
			"error $(($(ctr cli tx_drop_error) - e0))," \
			"guard $(($(ctr cli tx_drop_guard) - g0))"
		check "$t: ... ESP went into TCP meanwhile" \
			test "$(($(ctr cli esp_tx_msgs) - tx0))" -gt 0
		check_eq "$t: ... no UDP and no ESP left either end" 0 \
			$(($(leaked) - l0))
		check "$t: ... the state is a TCP state on its own ports" \
			sh -c "ip netns exec cli cat /proc/net/espintcp_states |
				grep -q ' $(printf 0x%08x "$spo") $cport $sport\$'"
		tx0=$(ctr cli esp_tx_msgs) rx0=$(ctr srv esp_rx_msgs)
		cli $bin/udp_blast "$fam" "$s" 7 3 100 0 > /dev/null
		sent3() { esp_delta cli srv "$tx0" "$rx0"; }
		check_poll "$t: ... then 3 datagrams cross as 3 ESP frames in TCP" "3 3" sent3
	done
	peer_stop
	xfrm_flush
	check_poll "$t: no TCP state left once xfrm's GC ran" 0 ctr cli tcp_states
	check "$t: rmmod" rmmod_wait
}

# --- 2. datagrams that pass for a TCP state's ESP ---------------------------
# attack DESC INTO_STREAM GUARD UDP_OUT ESP_OUT: uid 65534 sends 3
# datagrams from cport to s:sport, each starting with the SPI of cli's
# outbound TCP state; how many went into the stream, were stopped by the
# guard, left as UDP and left as ESP
attack() {
	tx0=$(ctr cli esp_tx_msgs) g0=$(ctr cli tx_drop_guard)
	u0=$(egress cli "$udpf") x0=$(egress cli "$espf")
	out=$(cli $bin/run_as $nobody env UDP_BLAST_SPORT="$cport" \
		$bin/udp_blast "$fam" "$s" "$sport" 3 64 "$spo" 2>&1 | paste -sd' ' -)
	echo "# $1: udp_blast: $out"
	moved() {
		echo "$(($(ctr cli esp_tx_msgs) - tx0)) $(($(ctr cli tx_drop_guard) - g0))" \
			"$(($(egress cli "$udpf") - u0)) $(($(egress cli "$espf") - x0))"
	}
	check_poll "$t, $1: into the stream, stopped by the guard, out as UDP, out as ESP" \
		"$2 $3 $4 $5" moved
}

guard_test() { # FAMILY
	fam=$1
	fam_vars "$fam"
	t="IPv$fam uid $nobody"
	cport=$((44100 + fam)) sport=$((4710 + fam))
	spo=0x${fam}b01 spi=0x${fam}b02
	topo_up
	modprobe espintcp
	if peer_start "$fam" "$cport" "$sport"; then
		ok "$t: espintcp connection"
	else
		not_ok "$t: espintcp connection"
	fi
	sa_pair transport "$fam" "$c" "$s" "$spo" "$spi" "$cport" "$sport"

	attack "a datagram alone" 0 0 3 0
	check_eq "$t: ... sent without an error" "sent 3" "$out"

	cli ip xfrm state add src "$c" dst "$s" proto comp spi 0x${fam}c1 \
		mode transport comp deflate
	cli ip xfrm policy add src "$c" dst "$s" proto udp dport "$sport" \
		dir out tmpl src "$c" dst "$s" proto comp mode transport
	attack "through IPComp, uncompressed" 0 3 0 0
	cli ip xfrm policy delete src "$c" dst "$s" proto udp dport "$sport" dir out

	cli ip xfrm state add src "$c" dst "$s" proto esp spi 0x${fam}c2 \
		reqid 2 mode tunnel $AEAD
	cli ip xfrm policy add src "$c" dst "$s" proto udp dport "$sport" \
		dir out tmpl src "$c" dst "$s" proto comp mode transport \
		tmpl src "$c" dst "$s" proto esp reqid 2 mode tunnel
	attack "through IPComp, then ESP in tunnel mode" 0 0 0 3
	cli ip xfrm policy delete src "$c" dst "$s" proto udp dport "$sport" dir out

	if [ "$fam" = 6 ]; then
		cli ip xfrm state add src "$c" dst "$s" proto ah spi 0x${fam}c3 \
			mode transport auth 'hmac(sha256)' "$KEY"
		cli ip xfrm policy add src "$c" dst "$s" proto udp dport "$sport" \
			dir out tmpl src "$c" dst "$s" proto ah mode transport
		attack "through AH" 0 3 0 0
	fi
	check_eq "$t: srv took no ESP in from any of it" 0 "$(ctr srv esp_rx_msgs)"

	# The TCP states' SPIs are one table of the module's: another netns
	# with the same addresses and IPComp, and a TCP state of its own (so
	# that its guard looks), sends the same datagrams as UDP, unstopped.
	ip netns add other
	# a veth of its own, without neighbour discovery: what leaves, leaves
	ip -n other link add veth0 type veth peer name veth1
	ip -n other link set veth0 arp off
	ip -n other link set veth1 up
	if [ "$fam" = 4 ]; then
		ip -n other addr add "$c/24" dev veth0
	else
		ip -n other addr add "$c/64" dev veth0 nodad
	fi
	ip -n other link set veth0 up
	topo_filters other
	ip -n other xfrm state add src "$c" dst "$s" proto esp spi 0x${fam}d01 \
		reqid 1 mode transport $AEAD encap espintcp "$cport" 4999 0.0.0.0
	ip -n other xfrm state add src "$c" dst "$s" proto comp spi 0x${fam}c1 \
		mode transport comp deflate
	ip -n other xfrm policy add src "$c" dst "$s" proto udp dport "$sport" \
		dir out tmpl src "$c" dst "$s" proto comp mode transport
	u0=$(egress other "$udpf")
	ip netns exec other $bin/run_as $nobody env UDP_BLAST_SPORT="$cport" \
		$bin/udp_blast "$fam" "$s" "$sport" 3 64 "$spo" > /dev/null 2>&1
	other_out() {
		echo "$(($(egress other "$udpf") - u0)) $(ctr other tx_drop_guard)"
	}
	check_poll "$t, another netns, same SPI through IPComp: out as UDP, stopped by the guard" \
		"3 0" other_out
	ip netns del other

	# a NIC would send the SA's ESP as ESP-in-UDP: xfrm refuses to offload
	# a state with TFC padding, which TCP states have (1 byte: none) where
	# the kernel has packet offload; older kernels refuse any encap, and
	# 5.10 says nothing of why
	offload() { # ENCAP...: a state offloaded to veth0, or why not
		cli ip xfrm state add src "$c" dst "$s" proto esp spi 0x${fam}b09 \
			reqid 9 mode transport $AEAD "$@" offload dev veth0 dir out 2>&1 &&
			echo added
	}
	out=$(offload encap espintcp "$cport" "$sport" 0.0.0.0 || true)
	echo "# offload of a TCP state: $out"
	# a kernel without XFRM_OFFLOAD ignores the request: a software state
	if [ "$out" = added ] && ! cli ip xfrm state get src "$c" dst "$s" \
			proto esp spi 0x${fam}b09 | grep -q 'crypto offload'; then
		cli ip xfrm state delete src "$c" dst "$s" proto esp spi 0x${fam}b09
		skip "root: offload of a TCP state refused" "this kernel has no XFRM_OFFLOAD: it ignored the request, and the state was a software TCP state"
		out=
	fi
	case $out in
	"") ;;
	*"TFC padding can't be offloaded"*) ok "root: offload of a TCP state refused, with the kernel's reason" ;;
	"RTNETLINK answers: Invalid argument")
		ok "root: offload of a TCP state refused (EINVAL; this kernel gives no reason)" ;;
	*) not_ok "root: offload of a TCP state refused" ;;
	esac
	check_eq "root: ... and no such state" "" \
		"$(cli ip xfrm state get src "$c" dst "$s" proto esp spi 0x${fam}b09 2>/dev/null)"
	[ -z "$out" ] ||
		check_eq "root: (control) a plain ESP state may ask (veth0: done in software)" \
			added "$(offload)"
	peer_stop
	xfrm_flush
	check "$t: rmmod" rmmod_wait
}

# --- 3. ESP for a TCP state through another peer's connection -----------------
# cli holds two connections to srv: from c (the SA's peer) and from c2. An
# SA of cli from c2, with the keys and SPI of srv's inbound TCP state from
# c, sends its ESP through the second: srv must not take it (esp4/esp6
# would report c2 as c's new address to the IKE daemon).
peer_test() { # FAMILY
	fam=$1
	fam_vars "$fam"
	t="IPv$fam ESP for a TCP state from another peer's connection"
	cport=$((44200 + fam)) sport=$((4720 + fam)) sport2=$((4730 + fam))
	spo=0x${fam}e01
	topo_up
	modprobe espintcp
	if [ "$fam" = 4 ]; then c2=10.0.1.11; else c2=fd00:1::11; fi
	cli ip addr add "$c2" dev veth0 nodad 2>/dev/null ||
		cli ip addr add "$c2" dev veth0
	peer_start "$fam" "$cport" "$sport" || not_ok "$t: espintcp connection"
	rm -f /tmp/peer2.in /tmp/peer2.out
	mkfifo /tmp/peer2.in
	PEER_CADDR=$c2 $bin/ike_pair "$fam" "$cport" "$sport2" \
		< /tmp/peer2.in > /tmp/peer2.out 2>&1 &
	exec 5> /tmp/peer2.in
	check "$t: a second connection, from $c2" \
		poll_until grep -q ready /tmp/peer2.out
	sa srv transport "$fam" "$c" "$s" "$spo" "$cport" "$sport"
	# cli's SA from c2 to s: the same SPI and key, on the second connection
	# (tunnel mode, for its outer source to be c2)
	sa cli tunnel "$fam" "$c2" "$s" "$spo" "$cport" "$sport2"
	cli ip xfrm policy add dst "$s" proto udp dport 7000 dir out \
		tmpl src "$c2" dst "$s" proto esp reqid 1 mode tunnel
	srv cat /proc/net/xfrm_stat > /tmp/xs0
	tx0=$(ctr cli esp_tx_msgs) o0=$(ctr srv rx_drop_other_peer)
	rx0=$(ctr srv esp_rx_msgs)
	ip netns exec srv ip xfrm monitor > /tmp/monitor 2>&1 &
	mon=$!
	out=$(UDP_BLAST_SPORT=7000 cli $bin/udp_blast "$fam" "$s" 7000 3 100 0 | paste -sd' ' -)
	echo "# udp_blast: $out"
	moved() {
		echo "$(($(ctr cli esp_tx_msgs) - tx0)) $(($(ctr srv esp_rx_msgs) - rx0))" \
			"$(($(ctr srv rx_drop_other_peer) - o0))"
	}
	check_poll "$t: 3 ESP frames sent from $c2, received, all refused (rx_drop_other_peer)" \
		"3 3 3" moved
	[ "$(moved)" = "3 3 3" ] || cli grep -v '[[:space:]]0$' /proc/net/xfrm_stat \
		/proc/net/espintcp | sed 's/^/# cli: /'
	sleep 0.5
	kill "$mon" 2>/dev/null || true
	check_eq "$t: no mapping change reported" "" \
		"$(grep -i mapping /tmp/monitor || true)"
	check_eq "$t: srv's xfrm counted them as the state's input refused them" \
		"XfrmInStateProtoError 3" \
		"$(srv cat /proc/net/xfrm_stat | awk 'NR == FNR { v[$1] = $2; next }
			$2 != v[$1] { print $1, $2 - v[$1] }' /tmp/xs0 -)"
	exec 5>&-
	peer_stop
	xfrm_flush
	check "$t: rmmod" rmmod_wait
}

# FAIL_CLOSED_PARTS: which of the parts above run (all by default)
parts=${FAIL_CLOSED_PARTS:-churn guard peer}
if [ -z "${parts##*churn*}" ]; then
	pcrypt_on
	for fam in 4 6; do
		churn_test "$fam"
	done
	pcrypt_off
fi
for fam in 4 6; do
	[ -n "${parts##*guard*}" ] || guard_test "$fam"
	[ -n "${parts##*peer*}" ] || peer_test "$fam"
done
topo_down
exit 0
