#!/bin/bash
# make interop: the module against upstream's in-kernel espintcp, and
# tshark's reading of the module's stream.
#
# For each reference kernel of tests/interop/ref-kernel.sh in turn (6.1:
# Debian's linux-source-6.1; 7: the newest linux-source-7.* of
# trixie-backports or sid, all with CONFIG_INET_ESPINTCP=y), boots two
# guests joined by a QEMU socket netdev (one link, e1000 on both ends):
# "a", Debian's 6.1 kernel with espintcp.ko, and "b", the reference kernel,
# and runs tests/interop/guest.sh in both. Then tshark decodes a's capture of
# every connection. TAP lines on stdout, labelled with the reference
# kernel's version ("ok N - [interop 6.1] ...", "[interop 7.3]"), numbered
# from $TAP_START (default 1); the last line "N passed, N failed".
# A mirror without a linux-source-7.* gives one "ok # SKIP" line for it.
# INTEROP_REFS: the reference kernels (default "6.1 7").
#
# --cached-only: skip a reference kernel (one "ok # SKIP" line) unless it is
# already built, instead of building it (about 10 minutes on 2 cores).
set -eu
# shellcheck source-path=SCRIPTDIR source=../qemu/lib.sh
. "$(dirname "$0")/../qemu/lib.sh"

n=$((${TAP_START:-1} - 1)) passed=0 failed=0 label=
result() { # "ok"|"not ok" DESC... (label: the reference kernel's version)
	local st=$1
	shift
	n=$((n + 1))
	case "$st" in ok) passed=$((passed + 1)) ;; *) failed=$((failed + 1)) ;; esac
	echo "$st $n - [interop $label] $*"
}
finish() {
	echo "$passed passed, $failed failed"
	[ "$failed" = 0 ]
	exit
}

setup
k=$(matrix | head -n 1)
refs=() labels=()
for line in ${INTEROP_REFS:-6.1 7}; do
	label=$line
	[ "$line" = 7 ] && label=7.x
	t0=$(date +%s)
	rc=0
	if [ "${1:-}" = --cached-only ]; then
		ref=$("$root/tests/interop/ref-kernel.sh" --cached-only "$line") || rc=$?
	else
		ref=$("$root/tests/interop/ref-kernel.sh" "$line") || rc=$?
	fi
	case $rc in
	0)
		# the label: the version the source package has (6.1, 7.3)
		v=$(basename "$(dirname "$ref")")
		label=$(echo "$v" | sed -n 's/^\([0-9]*\.[0-9]*\).*/\1/p')
		label=${label:-$line}
		refs+=("$ref") labels+=("$label")
		echo "# reference kernel $label: $ref ($(($(date +%s) - t0))s to build or find)"
		;;
	3) result ok "module against upstream espintcp $label # SKIP no linux-source-$line.* in trixie-backports or sid on the mirror" ;;
	*)
		if [ "${1:-}" = --cached-only ]; then
			result ok "module against upstream espintcp $label # SKIP reference kernel $line not built yet (make interop builds it)"
		else
			result "not ok" "build the reference kernel (tests/interop/ref-kernel.sh $line, exit $rc)"
		fi
		;;
	esac
done
[ "${#refs[@]}" -gt 0 ] || finish
command -v tshark >/dev/null || die "tshark is not installed (tests/host/setup.sh installs it)"

build_tests || die "make tests failed"
# INTEROP_KO: the module to test (make check: the one dkms built)
ko=${INTEROP_KO:-}
if [ -z "$ko" ]; then
	build_module "$k" || die "building espintcp.ko for $k failed"
fi
initrd=$(initramfs "$k" "$ko")
accel=$(accel_args "$k")

guest() { # a|b KERNEL NETDEV_OPTS
	# shellcheck disable=SC2086
	timeout --foreground -k 10 "$QEMU_TIMEOUT" \
		qemu-system-x86_64 $accel -m 512 -smp 1 \
		-nodefaults -nographic -no-reboot \
		-serial "file:$dir/console-$1.log" -serial "file:$dir/results-$1.log" \
		-serial "file:$dir/capture-$1.b64" \
		-netdev "socket,id=n0,$3" -device "e1000,netdev=n0,mac=52:54:00:00:09:0${1/a/1}" \
		-kernel "$2" -initrd "$initrd" \
		-append "console=ttyS0 panic=-1 panic_on_warn=1 oops=panic harness=interop interop=$1" \
		</dev/null >/dev/null 2>&1
}

interop() { # REF: a against REF, and tshark on a's capture
	local ref=$1 dir=$BUILD/qemu/interop-$label port t0 akernel pa pb g done_ line pcap bad got
	mkdir -p "$dir"
	rm -f "$dir"/*.log "$dir"/capture.*
	# both guests at once: they are one test, and hold the one QEMU lock
	# (taken after the KVM probe, which takes it too)
	port=$((20000 + RANDOM % 20000))
	echo "# [interop $label] booting a ($k) and b (reference $label) on one link (timeout ${QEMU_TIMEOUT}s)"
	t0=$(date +%s)
	exec 9> /tmp/espintcp-qemu.lock
	flock 9
	# INTEROP_A=ref: the reference kernel on both ends (to tell an upstream
	# problem from the module's)
	akernel=/boot/vmlinuz-$k
	[ "${INTEROP_A:-}" = ref ] && akernel=$ref
	guest a "$akernel" "listen=127.0.0.1:$port" &
	pa=$!
	sleep 1
	guest b "$ref" "connect=127.0.0.1:$port" &
	pb=$!
	wait "$pa" || true
	wait "$pb" || true
	flock -u 9
	echo "# [interop $label] both guests done in $(($(date +%s) - t0))s"

	for g in a b; do
		done_=0
		while IFS= read -r line; do
			case $line in
			"ok - "*) result ok "$g: ${line#ok - }" ;;
			"not ok - "*) result "not ok" "$g: ${line#not ok - }" ;;
			"# guest-done") done_=1 ;;
			"#"*) echo "$line" ;;
			esac
		done < <(tr -d '\r' < "$dir/results-$g.log")
		if [ "$done_" = 1 ]; then
			result ok "$g: guest ran all tests and powered off"
		else
			result "not ok" "$g: guest ran all tests and powered off"
			tail -n 40 "$dir/console-$g.log" | tr -d '\r' | sed 's/^/#   /'
		fi
		if grep -aqE "$bad_console_line" "$dir/console-$g.log"; then
			result "not ok" "$g: kernel console free of panic/WARN/BUG"
			grep -aE -A10 "$bad_console_line" "$dir/console-$g.log" | head -n 40 | sed 's/^/#   /'
		else
			result ok "$g: kernel console free of panic/WARN/BUG"
		fi
	done

	# tshark, as an independent parser of the module's stream. Debian 12's
	# tshark 4.0 has no RFC 8229 dissector (its "tcpencap" is Cisco's
	# proprietary format): tests/interop/rfc8229.lua does the framing only and
	# hands every message to tshark's own ISAKMP and ESP dissectors.
	pcap=$dir/capture.pcap
	tr -d '\r' < "$dir/capture-a.b64" | base64 -d > "$pcap" 2>/dev/null || true
	if [ ! -s "$pcap" ]; then
		result "not ok" "tshark: a's capture came out of the guest"
		return
	fi
	result ok "tshark: a's capture came out of the guest ($(stat -c %s "$pcap") bytes)"
	ts() {
		tshark -X "lua_script:$root/tests/interop/rfc8229.lua" -r "$pcap" \
			-o tcp.desegment_tcp_streams:TRUE "$@" 2>/dev/null
	}
	bad=$(ts -Y '_ws.malformed || _ws.expert.severity == error' -T fields \
		-e frame.number -e _ws.col.Info)
	if [ -z "$bad" ]; then
		result ok "tshark: no malformed frame, no expert error"
	else
		result "not ok" "tshark: no malformed frame, no expert error"
		printf '%s\n' "$bad" | head -n 20 | sed 's/^/#   /'
	fi
	# 8 runs: 8 exchanges and one "go" message, 5 pings each way
	count() { ts -T fields -e "$1" | tr ',' '\n' | grep -c "$2" || true; }
	got="$(count rfc8229.kind '^ike$') $(count isakmp.ispi .) $(count rfc8229.kind '^esp$') $(count esp.spi .)"
	if [ "$got" = "136 136 80 80" ]; then
		result ok "tshark: 136 IKE messages and 80 ESP packets, each decoded by ISAKMP or ESP"
	else
		result "not ok" "tshark: 136 IKE messages and 80 ESP packets, each decoded by ISAKMP or ESP"
		echo "#   got (framing IKE, ISAKMP, framing ESP, ESP): $got"
	fi
}

for i in "${!refs[@]}"; do
	label=${labels[$i]}
	interop "${refs[$i]}"
done
finish
