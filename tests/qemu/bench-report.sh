#!/bin/bash
# Turns the figures of one make bench run ("KEY VALUE..." lines, from
# tests/guest/bench.sh) into OUTDIR/results.json, with the kernel, the
# module's version and the date, and OUTDIR/results.md, the tables, and
# plots them with gnuplot when it is installed (tests/host/setup.sh does):
#   ike-rtt.png/.svg     IKE and outer ping round trips on the shaped link,
#                        one sample per 100 ms, ESP bounded and unbounded,
#                        and upstream's espintcp on the reference kernel
#   throughput.png/.svg  iperf3 through the tunnel for each encapsulation,
#                        on the module's kernel and on the reference kernel
#   memory.png/.svg      slab memory against the number of connections:
#                        plain TCP, with the ULP, with an SA pair each
# The reference kernel's figures are those whose keys start with "ref."
# (tests/qemu/run.sh); without them the tables and plots show the module
# alone.
#
# Usage: bench-report.sh FIGURES KVER MODULE_VERSION OUTDIR
set -eu

figures=$1 kver=$2 version=$3 out=$4
[ -s "$figures" ] || { echo "bench-report: no figures in $figures" >&2; exit 1; }

# one line per figure: a number, or an array for a series
awk -v kver="$kver" -v version="$version" -v date="$(date -u +%Y-%m-%dT%H:%M:%SZ)" '
function num(v) { return v ~ /^-?[0-9]+(\.[0-9]+)?$/ ? v : "\"" v "\"" }
BEGIN {
	printf "{\n  \"kernel\": \"%s\",\n  \"module_version\": \"%s\",\n", kver, version
	printf "  \"date\": \"%s\",\n  \"figures\": {", date
}
NF >= 1 {
	sep = n++ ? "," : ""
	printf "%s\n    \"%s\": ", sep, $1
	if (NF == 2) {
		printf "%s", num($2)
	} else {
		printf "["
		for (i = 2; i <= NF; i++) {
			sep = i > 2 ? ", " : ""
			printf "%s%s", sep, num($i)
		}
		printf "]"
	}
}
END { printf "\n  }\n}\n" }' "$figures" > "$out/results.json"
echo "bench-report: $out/results.json"

value() { awk -v k="$1" '$1 == k { print $2 }' "$figures"; }
series() { # KEY: one value per line
	awk -v k="$1" '$1 == k { for (i = 2; i <= NF; i++) print $i }' "$figures"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a ~ /^[0-9.]+$/ && b ~ /^[0-9.]+$/ && b > 0) printf "%.2f", a / b; else print "–" }'; }
or_dash() { echo "${1:-–}"; }

when="$(date -u +%Y-%m-%d), kernel $kver, module $version, QEMU TCG (2 vCPUs)"

shaped_md() {
	echo "IKE round trips while iperf3 fills a 10 Mbit/s link through the tunnel"
	echo "($(value shaped.seconds) s, one sample per 100 ms; ms; $when):"
	echo
	echo "| ESP in front of IKE | IKE avg | IKE max | outer ping avg | outer ping max | IKE − ping | tunnel ping avg | tunnel ping max | Mbit/s |"
	echo "|---|---|---|---|---|---|---|---|---|"
	for k in shaped.bounded shaped.unbounded ref.shaped.upstream; do
		case $k in
		shaped.bounded) label="module, bounded (default)" ;;
		shaped.unbounded) label="module, unbounded (as upstream)" ;;
		*) [ -n "$(value "$k.mbit_s")" ] || continue
			label="upstream espintcp, reference kernel $(value ref.kernel)" ;;
		esac
		ike_avg=$(value "$k.ike_avg_ms")
		# IKE gave up before its last request (the bench's log says why)
		[ "$ike_avg" != "?" ] ||
			ike_avg="? ($(series "$k.ike_answered" | paste -sd/ -) answered)"
		echo "| $label | $ike_avg | $(value "$k.ike_max_ms") |" \
			"$(value "$k.ping_avg_ms") | $(value "$k.ping_max_ms") |" \
			"$(value "$k.ike_minus_ping_ms") | $(value "$k.inner_ping_avg_ms") |" \
			"$(value "$k.inner_ping_max_ms") | $(value "$k.mbit_s") |"
	done
	echo
}

thru_md() {
	local udp_r udp_c r c e label vr vc
	echo "iperf3 through a tunnel-mode SA on an unshaped veth, $(value thru.seconds) s per transfer,"
	echo "the encapsulations taking turns, median of $(value thru.rounds) rounds ($when);"
	echo "CPU: the guest's kernel time (system, irq, softirq) per MB received; the"
	echo "4-stream rows are compared with ESP in UDP's 4 streams; ESP in TCP's ratios"
	echo "are the medians of each round's ratio (the two transfers of a round ran"
	echo "seconds apart, so the host's drift over the run cancels out). Busiest CPU: the"
	echo "busy share (user, kernel, interrupts) of the guest CPU that was busiest"
	echo "during the transfer, and the mean over its CPUs (medians):"
	echo
	echo "| encapsulation | Mbit/s | vs. ESP in UDP | CPU ms/MB | vs. ESP in UDP | busiest CPU, mean | each round (Mbit/s) |"
	echo "|---|---|---|---|---|---|---|"
	udp_r=$(value thru.espinudp.mbit_s) udp_c=$(value thru.espinudp.cpu_ms_per_mb)
	for e in espintcp espinudp none espintcp_x4 espinudp_x4 espinudp_guarded; do
		case $e in
		espintcp) label="ESP in TCP (this module)" ;;
		espinudp) label="ESP in UDP" ;;
		none) label="plain ESP" ;;
		espintcp_x4) label="ESP in TCP, 4 streams"
			udp_r=$(value thru.espinudp_x4.mbit_s) udp_c=$(value thru.espinudp_x4.cpu_ms_per_mb) ;;
		espinudp_x4) label="ESP in UDP, 4 streams" ;;
		*) label="ESP in UDP, the module's egress guard on (a TCP state present)"
			udp_r=$(value thru.espinudp.mbit_s) udp_c=$(value thru.espinudp.cpu_ms_per_mb) ;;
		esac
		r=$(value "thru.$e.mbit_s") c=$(value "thru.$e.cpu_ms_per_mb")
		[ -n "$r" ] || continue
		case $e in
		espintcp*)	# round by round, as the bench compares them
			vr=$(value "ratio.${e%_x4}_espinudp${e#espintcp}.mbit_s")
			vc=$(value "ratio.${e%_x4}_espinudp${e#espintcp}.cpu_ms_per_mb") ;;
		espinudp_guarded)
			vr=$(value ratio.espinudp_guarded_espinudp.mbit_s)
			vc=$(value ratio.espinudp_guarded_espinudp.cpu_ms_per_mb) ;;
		*)	vr=$(ratio "$r" "$udp_r") vc=$(ratio "$c" "$udp_c") ;;
		esac
		echo "| $label | $(or_dash "$r") | $(or_dash "$vr") | $(or_dash "$c") |" \
			"$(or_dash "$vc") | $(or_dash "$(value "thru.$e.busiest_cpu_pct")")%," \
			"$(or_dash "$(value "thru.$e.mean_cpu_pct")")% |" \
			"$(series "thru.$e.rounds_mbit_s" | tr '\n' ' ')|"
	done
	echo
	echo "ESP in TCP / ESP in UDP, throughput in each round: $(series ratio.espintcp_espinudp.rounds_mbit_s | tr '\n' ' ')"
	echo "(4 streams: $(series ratio.espintcp_espinudp_x4.rounds_mbit_s | tr '\n' ' ' | sed 's/ $//'))."
	if [ -n "$(value ratio.espinudp_guarded_espinudp.mbit_s)" ]; then
		echo
		echo "The egress guard's cost, ESP in UDP with it on / off, in each round:"
		echo "throughput $(series ratio.espinudp_guarded_espinudp.rounds_mbit_s | tr '\n' ' ')"
		echo "CPU per MB $(series ratio.espinudp_guarded_espinudp.rounds_cpu_ms_per_mb | tr '\n' ' ' | sed 's/ $//')."
	fi
	echo
	echo "Idle: IKE round trip $(value idle.ike_rtt_avg_ms) ms avg ($(value idle.ike_rtt_max_ms) max),"
	echo "ping $(value idle.ping_avg_ms) ms avg ($(value idle.ping_max_ms) max). ESP frames per"
	echo "segment of the outer connection, first round: $(value outer.espintcp.esp_frames_per_segment)"
	echo "(4 streams: $(value outer.espintcp_x4.esp_frames_per_segment))."
	echo
}

# module against upstream, each as a ratio on its own kernel
versus_md() {
	local ike_m ike_u
	echo "The module on $kver against upstream's espintcp on the reference kernel"
	echo "$(value ref.kernel) (tinyconfig, CONFIG_INET_ESPINTCP=y), the same bench in the same"
	echo "run; throughput and CPU as ratios to ESP in UDP on the same kernel ($when):"
	echo
	echo "| figure | module | upstream | module's margin |"
	echo "|---|---|---|---|"
	echo "| ESP in TCP throughput / ESP in UDP | $(value ratio.espintcp_espinudp.mbit_s) |" \
		"$(value ref.ratio.espintcp_espinudp.mbit_s) |" \
		"$(ratio "$(value ratio.espintcp_espinudp.mbit_s)" "$(value ref.ratio.espintcp_espinudp.mbit_s)")× |"
	echo "| the same, 4 streams | $(value ratio.espintcp_espinudp_x4.mbit_s) |" \
		"$(value ref.ratio.espintcp_espinudp_x4.mbit_s) |" \
		"$(ratio "$(value ratio.espintcp_espinudp_x4.mbit_s)" "$(value ref.ratio.espintcp_espinudp_x4.mbit_s)")× |"
	echo "| ESP in TCP CPU per MB / ESP in UDP (lower is better) | $(value ratio.espintcp_espinudp.cpu_ms_per_mb) |" \
		"$(value ref.ratio.espintcp_espinudp.cpu_ms_per_mb) |" \
		"$(ratio "$(value ref.ratio.espintcp_espinudp.cpu_ms_per_mb)" "$(value ratio.espintcp_espinudp.cpu_ms_per_mb)")× |"
	echo "| the same, 4 streams | $(value ratio.espintcp_espinudp_x4.cpu_ms_per_mb) |" \
		"$(value ref.ratio.espintcp_espinudp_x4.cpu_ms_per_mb) |" \
		"$(ratio "$(value ref.ratio.espintcp_espinudp_x4.cpu_ms_per_mb)" "$(value ratio.espintcp_espinudp_x4.cpu_ms_per_mb)")× |"
	ike_m=$(value shaped.bounded.ike_minus_ping_ms) ike_u=$(value ref.shaped.upstream.ike_minus_ping_ms)
	echo "| IKE − ping under load, 10 Mbit/s (ms, lower is better) | $(or_dash "$ike_m") | $(or_dash "$ike_u") |" \
		"$(awk -v m="$ike_m" -v u="$ike_u" 'BEGIN { if (m !~ /^-?[0-9.]+$/ || u !~ /^-?[0-9.]+$/) print "–"; else if (u >= m) printf "%.1f ms less", u - m; else printf "%.1f ms more", m - u }') |"
	for e in espintcp espinudp none espintcp_x4 espinudp_x4; do
		echo "| $(label "$e"), Mbit/s (context) | $(or_dash "$(value "thru.$e.mbit_s")") |" \
			"$(or_dash "$(value "ref.thru.$e.mbit_s")") | |"
	done
	echo
	echo "A margin above 1× is the module's lead. The two kernels' configurations"
	echo "differ (the reference kernel is a tinyconfig build): ESP in UDP moved"
	echo "$(ratio "$(value ref.thru.espinudp.mbit_s)" "$(value thru.espinudp.mbit_s)") times as fast on the reference kernel as on the module's, which is"
	echo "why each kernel's ESP in TCP is compared with its own ESP in UDP."
	echo
	if [ -n "$(value ref.kernel_warnings)" ]; then
		echo "The reference kernel warned during its run, in upstream's code:"
		echo "$(value ref.kernel_warnings) WARNING(s), the first at \`$(value ref.kernel_warning_at)\`"
		echo "(its console is \`build/qemu/$kver/console-ref.log\`); it boots with"
		echo "\`panic_on_warn=0\` so that its figures are still compared."
		echo
	fi
}

label() { # ENCAP
	case $1 in
	espintcp) echo "ESP in TCP" ;;
	espinudp) echo "ESP in UDP" ;;
	none) echo "plain ESP" ;;
	espintcp_x4) echo "ESP in TCP, 4 streams" ;;
	*) echo "ESP in UDP, 4 streams" ;;
	esac
}

scale_md() {
	local n rounds
	n=$(value scale.conns)
	echo "$n espintcp connections on one server, both ends in the guest, each with"
	echo "an SA pair at each end (slab kB from /proc/meminfo, per connection; $when):"
	echo
	echo "| figure | value |"
	echo "|---|---|"
	echo "| plain TCP connection, both ends | $(value scale.plain_tcp_kb_per_conn) kB |"
	echo "| the same with the ULP at both ends | $(value scale.ulp_kb_per_conn) kB |"
	echo "| an SA pair at each end (4 states) | $(value scale.sa_pair_kb_per_conn) kB more |"
	echo "| $n connections with the ULP set up | $(value scale.setup_conns_ms) ms |"
	echo "| $((4 * n)) states added (ip -batch) | $(value scale.setup_states_ms) ms |"
	echo "| states flushed, $((2 * n)) sockets closed | $(value scale.teardown_ms) ms |"
	echo "| one tunnel's iperf3, 1 SA pair (median of $(value scale.rounds) rounds, taking turns with the next) | $(value scale.mbit_s_1) Mbit/s, $(value scale.cpu_ms_per_mb_1) CPU ms/MB |"
	echo "| the same with $((n + 1)) SA pairs | $(value scale.mbit_s_n) Mbit/s, $(value scale.cpu_ms_per_mb_n) CPU ms/MB |"
	rounds=$(series scale.rounds_ratio_n_1 | tr '\n' ' ' | sed 's/ $//')
	echo "| throughput, $((n + 1)) SA pairs vs. 1 (median of each round's ratio) | $(value scale.ratio_n_1)${rounds:+ ($rounds)} |"
	echo "| after teardown: states left, module unloaded | $(value scale.states_left), $(value scale.unloaded) |"
	echo "| slab after teardown, from the start | $(value scale.slab_kb_left) kB |"
	if [ -n "$(value scale.active)" ]; then
		a=$(value scale.active)
		echo "| $a of them active (random, seed $(value scale.active_seed)): a policy pair each | $(value scale.active_policy_kb_per_conn) kB more per active connection |"
		echo "| then 10 UDP datagrams each through its SA ($(value scale.active_esp_rx) of $((10 * a)) arrived as ESP in the stream) | $(value scale.active_traffic_kb_per_conn) kB more per active connection |"
	fi
	echo
	curve_rows > "$tmp/curve"
	[ -s "$tmp/curve" ] || return 0
	echo "Slab memory against the number of connections, both ends, each count"
	echo "from a baseline of its own (kB):"
	echo
	echo "| connections | plain TCP | with the ULP | with the ULP and an SA pair each |"
	echo "|---|---|---|---|"
	awk '{ printf "| %s | %s | %s | %s |\n", $1, $2, $3, $4 }' "$tmp/curve"
	echo
}

curve_rows() { # "CONNS PLAIN ULP ULP+SA", by count
	awk '$1 ~ /^scale\.curve\./ { n = $1; sub(/^scale\.curve\./, "", n); print n, $2, $3, $4 }' \
		"$figures" | sort -n
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

{
	echo "<!-- written by tests/qemu/bench-report.sh from one make bench run -->"
	[ -z "$(value shaped.bounded.mbit_s)" ] || shaped_md
	[ -z "$(value thru.espintcp.mbit_s)" ] || thru_md
	[ -z "$(value ref.bench.done)" ] || versus_md
	[ -z "$(value scale.conns)" ] || scale_md
} > "$out/results.md"
echo "bench-report: $out/results.md"

if ! command -v gnuplot > /dev/null; then
	echo "bench-report: no gnuplot, no plots (tests/host/setup.sh installs it)"
	exit 0
fi

for s in shaped.bounded.ike_rtt_ms shaped.unbounded.ike_rtt_ms \
	shaped.bounded.ping_rtt_ms ref.shaped.upstream.ike_rtt_ms; do
	series "$s" | awk '{ print (NR - 1) / 10, $1 }' > "$tmp/$s"
done
{
	echo "\"plain ESP\" $(value thru.none.mbit_s) $(or_dash "$(value ref.thru.none.mbit_s)")"
	echo "\"ESP in UDP\" $(value thru.espinudp.mbit_s) $(or_dash "$(value ref.thru.espinudp.mbit_s)")"
	echo "\"ESP in TCP\" $(value thru.espintcp.mbit_s) $(or_dash "$(value ref.thru.espintcp.mbit_s)")"
} > "$tmp/thru"
upstream_line=
if [ -s "$tmp/ref.shaped.upstream.ike_rtt_ms" ]; then
	upstream_line=", \"$tmp/ref.shaped.upstream.ike_rtt_ms\" with lines lw 2 title \"IKE, upstream espintcp (reference kernel $(value ref.kernel))\""
fi
upstream_bars='' label_dx=0
if [ -n "$(value ref.thru.espintcp.mbit_s)" ]; then
	label_dx=0.17
	upstream_bars=", \"\" using 3 title \"upstream espintcp, reference kernel $(value ref.kernel)\", \"\" using (\$0 + 0.17):3:(sprintf(\"%.1f\", \$3)) with labels offset 0,1 notitle"
fi

title="$kver, espintcp $version, $(date -u +%Y-%m-%d), QEMU TCG"
plot_to() { # NAME: the gnuplot commands on stdin, drawn as NAME.png and NAME.svg
	local body term ext
	body=$(cat)
	for term in "pngcairo size 900,500" "svg size 900,500"; do
		ext=${term%% *}; ext=${ext%cairo}
		printf 'set terminal %s\nset output "%s"\n%s\n' "$term" "$out/$1.$ext" "$body" | gnuplot
	done
}

if [ -s "$tmp/curve" ]; then
	plot_to memory <<GNUPLOT
set title "Slab memory of espintcp connections on one server, both ends in the guest\\n$title"
set xlabel "connections"
set ylabel "slab memory (MB)"
set key top left opaque box
set grid
set xrange [0:*]
set yrange [0:*]
plot "$tmp/curve" using 1:(\$4 / 1024) with linespoints lw 2 title "with the ULP and an SA pair each", \\
     "" using 1:(\$3 / 1024) with linespoints lw 2 title "with the ULP", \\
     "" using 1:(\$2 / 1024) with linespoints lw 2 title "plain TCP"
GNUPLOT
	echo "bench-report: $out/memory.png (and .svg)"
fi
if [ -z "$(value shaped.bounded.mbit_s)" ] || [ -z "$(value thru.espintcp.mbit_s)" ]; then
	echo "bench-report: not every part ran, no plots"
	exit 0
fi
plot_to ike-rtt <<GNUPLOT
set title "IKE round trip while iperf3 fills a 10 Mbit/s link through the tunnel\\n$title"
set xlabel "time (s)"
set ylabel "round trip (ms)"
set key top left opaque box
set grid
plot "$tmp/shaped.unbounded.ike_rtt_ms" with lines lw 2 title "IKE, module, ESP unbounded (as upstream)", \\
     "$tmp/shaped.bounded.ike_rtt_ms" with lines lw 2 title "IKE, module default", \\
     "$tmp/shaped.bounded.ping_rtt_ms" with lines lw 1 dt 2 title "ping outside the tunnel, same link"$upstream_line
GNUPLOT
plot_to throughput <<GNUPLOT
set title "iperf3 through a tunnel-mode SA, unshaped veth, median of rounds\\n$title"
set ylabel "Mbit/s"
set grid
set style data histogram
set style histogram clustered gap 1
set style fill solid 0.6
set yrange [0:*]
set offsets 0, 0, graph 0.12, 0
set key below opaque box
plot "$tmp/thru" using 2:xticlabels(1) title "module, $kver", \\
     "" using (\$0 - $label_dx):2:(sprintf("%.1f", \$2)) with labels offset 0,1 notitle$upstream_bars
GNUPLOT
echo "bench-report: $out/ike-rtt.png, $out/throughput.png (and .svg)"
