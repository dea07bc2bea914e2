#!/bin/sh
# make bench: IKE latency while ESP saturates a slow link.
#
# Both veth ends shaped to 10 Mbit/s (tbf, burst 32kbit, latency 100ms); a
# tunnel-mode ESP-over-TCP SA between cli and srv; iperf3 pushes TCP through
# the tunnel while, every 100 ms, an IKE request/response crosses the
# espintcp socket, a ping crosses the link outside the tunnel (the baseline:
# it queues in the same tbf) and a ping crosses the tunnel (what the flows
# inside see). The same run is made twice: with the module's ESP bounds
# (default) and with them lifted, which is how upstream behaves (ESP fills
# the socket's send queue ahead of IKE).
#
# A second table, unshaped link: IKE and outer ping round trips idle, and
# iperf3 through the same tunnel with ESP in TCP, ESP in UDP and plain
# ESP (the drop filter for each lifted), taking turns for a few rounds:
# the median throughput of each, and the guest's kernel CPU time per MB,
# as ratios to plain ESP; and how many ESP frames each segment of the
# outer connection carried.
#
# Kernel command line knobs (BOOT_ARGS="..." make bench): bench_part=thru
# runs the second table only, bench_rounds=N sets its rounds (3), and
# bench_profile=1 adds a perf profile of each encapsulation's last round.
set -eu
. /tests/netns.sh

KEY=0x0102030405060708090a0b0c0d0e0f1011121314
SECS=${BENCH_SECS:-12}
COUNT=$((SECS * 10 - 20))

avg() { sed -n 's|.*min/avg/max = [0-9.]*/\([0-9.]*\)/.*|\1|p' "$1"; }
max() { sed -n 's|.*min/avg/max = [0-9.]*/[0-9.]*/\([0-9.]*\).*|\1|p' "$1"; }
us2ms() { awk -v v="$1" 'BEGIN { printf "%.1f", v / 1000 }'; }

tunnel() { # CPORT SPORT [ENCAP: espintcp (default), espinudp, none]
	e1="encap ${3:-espintcp} $1 $2 0.0.0.0" e2="encap ${3:-espintcp} $2 $1 0.0.0.0"
	[ "${3:-}" = none ] && e1='' e2=''
	for ns in cli srv; do
		ip -n "$ns" xfrm state add src 10.0.1.1 dst 10.0.1.2 proto esp \
			spi 0x501 reqid 5 mode tunnel replay-window 32 aead 'rfc4106(gcm(aes))' $KEY 128 \
			$e1
		ip -n "$ns" xfrm state add src 10.0.1.2 dst 10.0.1.1 proto esp \
			spi 0x502 reqid 5 mode tunnel replay-window 32 aead 'rfc4106(gcm(aes))' $KEY 128 \
			$e2
	done
	cli ip xfrm policy add src 10.9.1.1 dst 10.9.2.1 dir out \
		tmpl src 10.0.1.1 dst 10.0.1.2 proto esp reqid 5 mode tunnel
	cli ip xfrm policy add src 10.9.2.1 dst 10.9.1.1 dir in \
		tmpl src 10.0.1.2 dst 10.0.1.1 proto esp reqid 5 mode tunnel
	srv ip xfrm policy add src 10.9.2.1 dst 10.9.1.1 dir out \
		tmpl src 10.0.1.2 dst 10.0.1.1 proto esp reqid 5 mode tunnel
	srv ip xfrm policy add src 10.9.1.1 dst 10.9.2.1 dir in \
		tmpl src 10.0.1.1 dst 10.0.1.2 proto esp reqid 5 mode tunnel
}

# one_run NAME CPORT SPORT: prints a table row
one_run() {
	topo_up
	topo_shape 10mbit
	cli ip addr add 10.9.1.1/32 dev lo
	srv ip addr add 10.9.2.1/32 dev lo
	cli ip route add 10.9.2.1/32 via 10.0.1.2 src 10.9.1.1
	srv ip route add 10.9.1.1/32 via 10.0.1.1 src 10.9.2.1

	# every piece is bounded in time: a broken tunnel must not hang the run
	srv timeout $((SECS + 20)) iperf3 -s -1 -B 10.9.2.1 >/dev/null 2>&1 &
	# the connection carries the IKE pings and the tunnel: it is held
	# until the transfer is over, not just until the last IKE ping
	rm -f /tmp/bench.in
	mkfifo /tmp/bench.in
	/tests/bin/espintcp_peer 4 "$2" "$3" ike 100 "$COUNT" < /tmp/bench.in \
		> /tmp/ike.out 2>&1 &
	exec 4> /tmp/bench.in
	sleep 1
	tunnel "$2" "$3"
	cli timeout $((SECS + 15)) iperf3 -c 10.9.2.1 -B 10.9.1.1 -t "$SECS" -f m \
		> /tmp/iperf.out 2>&1 &
	bulk=$!
	sleep 1
	cli ping -c "$COUNT" -i 0.1 10.0.1.2 > /tmp/outer.out 2>&1 &
	outer=$!
	cli ping -c "$COUNT" -i 0.1 -I 10.9.1.1 10.9.2.1 > /tmp/inner.out 2>&1 &
	wait "$bulk" "$outer" $!
	exec 4>&-
	wait
	[ -n "${BENCH_DEBUG:-}" ] && tail -n 5 /tmp/ike.out /tmp/iperf.out /tmp/outer.out /tmp/inner.out &&
		srv grep -E "SeqError|InError|NoStates" /proc/net/xfrm_stat
	rate=$(sed -n 's/.* \([0-9.]*\) Mbits\/sec.*receiver.*/\1/p' /tmp/iperf.out)
	printf '%-22s %8s %8s %8s %8s %8s %8s %8s %8s %8s\n' "$1" \
		"$(us2ms "$(sed -n 's/^ike_rtt_avg_us //p' /tmp/ike.out)")" \
		"$(us2ms "$(sed -n 's/^ike_rtt_max_us //p' /tmp/ike.out)")" \
		"$(avg /tmp/outer.out)" "$(max /tmp/outer.out)" \
		"$(avg /tmp/inner.out)" "$(max /tmp/inner.out)" \
		"${rate:-?}" \
		"$(ip netns exec cli awk '$1 == "tx_drop_queue_full" { print $2 }' /proc/net/espintcp)" \
		"$(awk -v a="$(sed -n 's/^ike_rtt_avg_us //p' /tmp/ike.out)" -v b="$(avg /tmp/outer.out)" \
			'BEGIN { printf "%.1f", a / 1000 - b }')"
	cli ip xfrm policy flush; cli ip xfrm state flush
	srv ip xfrm policy flush; srv ip xfrm state flush
	topo_down
}

modprobe xfrm_user	# before any socket policy, as with an IKE daemon
modprobe espintcp
# bench_part=thru on the kernel command line: the unshaped table only
case " $(cat /proc/cmdline) " in
*" bench_part=thru "*) ;;
*)
echo "# IKE round trip vs. outer ping during a bulk transfer through the tunnel,"
echo "# 10 Mbit/s tbf on both veth ends, ${SECS}s, one sample per 100 ms (ms);"
echo "# in_*: ping inside the tunnel; mbit/s: iperf3 receiver; ike-ping: the difference of averages"
printf '%-22s %8s %8s %8s %8s %8s %8s %8s %8s %8s\n' "# configuration" \
	ike_avg ike_max ping_avg ping_max in_avg in_max mbit/s esp_drop ike-ping
one_run "bounded (default)" 40001 4501
sleep 2
echo 0 > /sys/module/espintcp/parameters/esp_notsent_bytes
one_run "unbounded (upstream)" 40002 4502
echo 4096 > /sys/module/espintcp/parameters/esp_notsent_bytes
;;
esac

# --- unshaped: idle round trips, and throughput by encapsulation ----------
THRU_SECS=${BENCH_THRU_SECS:-8}

# guest CPU time in the kernel (system, irq, softirq), all CPUs, in ms
cpu_ms() {
	awk '$1 == "cpu" { print ($4 + $7 + $8) * 10; exit }' /proc/stat
}

# bench_profile=1 on the kernel command line: a perf profile of each run
PROFILE=
case " $(cat /proc/cmdline) " in
*" bench_profile=1 "*) command -v perf > /dev/null && PROFILE=1 ;;
esac

# thru ENCAP CPORT SPORT: iperf3 Mbit/s through the tunnel in $rate, and
# kernel CPU ms per MB moved in $cost
thru() {
	PERF_NAME=$1
	topo_up
	cli ip addr add 10.9.1.1/32 dev lo
	srv ip addr add 10.9.2.1/32 dev lo
	cli ip route add 10.9.2.1/32 via 10.0.1.2 src 10.9.1.1
	srv ip route add 10.9.1.1/32 via 10.0.1.1 src 10.9.2.1
	rm -f /tmp/bench.in
	mkfifo /tmp/bench.in
	case $1 in
	espintcp)
		/tests/bin/espintcp_peer 4 "$2" "$3" ike 50 20 < /tmp/bench.in \
			> /tmp/ike.out 2>&1 & ;;
	espinudp)
		for ns in cli srv; do
			for d in ingress egress; do topo_undrop "$ns" "$d" 1; done
		done
		/tests/bin/udp_encap_sock cli 10.0.1.1 "$2" < /tmp/bench.in > /dev/null 2>&1 &
		/tests/bin/udp_encap_sock srv 10.0.1.2 "$3" < /tmp/bench.in > /dev/null 2>&1 & ;;
	none)
		for ns in cli srv; do
			for d in ingress egress; do topo_undrop "$ns" "$d" 2; done
		done
		# nothing to hold open: a reader, so that the fifo opens
		cat /tmp/bench.in > /dev/null & ;;
	esac
	exec 4> /tmp/bench.in
	sleep 1
	if [ "$1" = espintcp ]; then
		# idle: the IKE pings run first, then the outer pings
		for _i in $(seq 100); do
			grep -q ike_rtt_max_us /tmp/ike.out && break
			sleep 0.1
		done
		cli ping -c 20 -i 0.05 10.0.1.2 > /tmp/outer.out 2>&1
	fi
	tunnel "$2" "$3" "$1"
	srv timeout $((THRU_SECS + 20)) iperf3 -s -1 -B 10.9.2.1 >/dev/null 2>&1 &
	sleep 0.5
	if [ -n "$PROFILE" ]; then
		(sleep 1; perf record -a -o "/tmp/perf.$PERF_NAME" -- sleep $((THRU_SECS - 3)) \
			> /dev/null 2>&1) &
	fi
	t0=$(cpu_ms)
	cli timeout $((THRU_SECS + 15)) iperf3 -c 10.9.2.1 -B 10.9.1.1 -t "$THRU_SECS" -f m \
		> /tmp/iperf.out 2>&1 || true
	t1=$(cpu_ms)
	if [ "$1" = espintcp ]; then
		# how many ESP frames each of the outer connection's segments carried
		cli ss -tniH state established src "10.0.1.1:$2" > /tmp/ss.out
		frames=$(cli awk '$1 == "esp_tx_msgs" { print $2 }' /proc/net/espintcp)
		segs=$(sed -n 's/.* data_segs_out:\([0-9]*\).*/\1/p' /tmp/ss.out)
		segs_in=$(sed -n 's/.* segs_in:\([0-9]*\).*/\1/p' /tmp/ss.out)
	fi
	exec 4>&-
	wait
	rate=$(sed -n 's/.* \([0-9.]*\) Mbits\/sec.*receiver.*/\1/p' /tmp/iperf.out)
	# kernel CPU per MB: the transfer's MBytes, as the receiver counted them
	mb=$(sed -n 's/.* \([0-9.]*\) MBytes .*receiver.*/\1/p' /tmp/iperf.out)
	cost=$(awk -v t="$((t1 - t0))" -v m="${mb:-0}" \
		'BEGIN { if (m > 0) printf "%.1f", t / m; else print "?" }')
	cli ip xfrm policy flush; cli ip xfrm state flush
	srv ip xfrm policy flush; srv ip xfrm state flush
	topo_down
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "?" }'; }
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)]; else print 0 }'; }

# Under TCG one transfer varies by 20% or more from the next: the
# encapsulations take turns, ROUNDS times, and each gets its median.
ROUNDS=$(sed -n 's/.* bench_rounds=\([0-9]*\).*/\1/p' /proc/cmdline)
ROUNDS=${ROUNDS:-3}
ENCAPS="espintcp espinudp none"
rm -f /tmp/thru.*
for r in $(seq "$ROUNDS"); do
	for e in $ENCAPS; do
		case $e in
		espintcp) thru espintcp 40011 4511 ;;
		espinudp) thru espinudp 4512 4513 ;;
		none) thru none 0 0 ;;
		esac
		echo "${rate:-0} $cost" >> "/tmp/thru.$e"
		if [ "$r" = 1 ] && [ "$e" = espintcp ]; then
			ike_idle="$(us2ms "$(sed -n 's/^ike_rtt_avg_us //p' /tmp/ike.out)") / $(us2ms "$(sed -n 's/^ike_rtt_max_us //p' /tmp/ike.out)")"
			ping_idle="$(avg /tmp/outer.out) / $(max /tmp/outer.out)"
			fps="$frames ESP frames out in $segs data segments ($(ratio "$frames" "$segs") per segment), $segs_in segments in"
		fi
	done
done
for e in $ENCAPS; do
	eval "r_$e=\$(cut -d' ' -f1 /tmp/thru.$e | median)"
	eval "c_$e=\$(cut -d' ' -f2 /tmp/thru.$e | median)"
	eval "all_$e=\"\$(cut -d' ' -f1 /tmp/thru.$e | tr '\n' ' ')\""
done
row() { # LABEL ENCAP
	eval "r=\$r_$2 c=\$c_$2 all=\$all_$2"
	# shellcheck disable=SC2154 # set by the eval above
	printf '%-22s %8s %12s %12s %12s   %s\n' "$1" "$r" "$(ratio "$r" "$r_none")" \
		"$c" "$(ratio "$c" "$c_none")" "$all"
}
echo "#"
echo "# idle, unshaped (ms, avg / max of 20): IKE round trip $ike_idle; outer ping $ping_idle"
echo "# iperf3 through the tunnel, unshaped veth, ${THRU_SECS}s each, medians of $ROUNDS rounds, same guest run;"
echo "# cpu_ms/MB: guest kernel CPU time (system + irq + softirq) per MB the receiver got"
printf '%-22s %8s %12s %12s %12s   %s\n' "# encapsulation" mbit/s vs_plain_esp cpu_ms/MB vs_plain_esp "each round (mbit/s)"
row "espintcp (TCP)" espintcp
row "espinudp (UDP)" espinudp
row "none (plain ESP)" none
# shellcheck disable=SC2154
echo "# espintcp / espinudp: throughput $(ratio "$r_espintcp" "$r_espinudp"), kernel CPU per MB $(ratio "$c_espintcp" "$c_espinudp")"
echo "# outer connection, first espintcp round: $fps"
if [ -n "$PROFILE" ]; then
	for e in $ENCAPS; do
		echo "# perf: kernel symbols over 0.4% of samples, $e, last round"
		perf report -i "/tmp/perf.$e" --stdio --no-children --sort sym \
			--percent-limit 0.4 2>/dev/null | grep -E '^ +[0-9]' | head -n 60 | sed 's/^/#   /'
	done
fi
