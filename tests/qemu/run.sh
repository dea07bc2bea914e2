#!/bin/bash
# make run: boot the first kernel of build/matrix (Debian's 6.1) and run
# the IKE-over-TCP demo (tests/guest/demo.sh) instead of the tests; its
# output is streamed live. "run.sh bench" (make bench) runs
# tests/guest/bench.sh instead, then the same bench (without its scale
# part) on the 6.1 reference kernel with upstream's espintcp built in
# (tests/interop/ref-kernel.sh; BENCH_UPSTREAM=0 skips it), and
# tests/qemu/bench-report.sh turns the figures of both into
# build/bench/results.json and plots. The kernel console goes to
# build/qemu/KVER/console.log (console-ref.log for the reference kernel).
# Environment knobs: see tests/qemu/lib.sh.
set -eu
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

setup
k=$(matrix | head -n 1)
build_tests || die "make tests failed"
build_module "$k" || die "building espintcp.ko for $k failed"
# the bench profiles the data path with the host's perf, when it has one,
# and the guest reads the TSC, as real hardware does: TCG's HPET costs an
# emulated device access per clock read, which would weigh on TCP most
if [ "${1:-}" = bench ]; then
	export EXTRA_TOOLS=perf
	export BOOT_ARGS="tsc=reliable ${BOOT_ARGS:-}"
fi
initrd=$(initramfs "$k")
dir=$BUILD/qemu/$k
say "run: booting $k (console: $dir/console.log)"
figures=$BUILD/bench/figures
if [ "${1:-}" = bench ]; then
	mkdir -p "$BUILD/bench"
	: > "$figures"
fi

# guest CONSOLE_LOG [FIGURE_PREFIX]: boots (KERNEL_IMAGE, BOOT_ARGS) and
# streams the guest's report; the bench's figures go to $figures. Fails
# if the guest did not finish, if the bench did not reach its end, or if
# the kernel console shows trouble.
guest() {
	local done=0 line
	while IFS= read -r line; do
		if [ "$line" = "# guest-done" ]; then done=1; continue; fi
		case $line in "@ "*) printf '%s%s\n' "${2:-}" "${line#@ }" >> "$figures"; continue ;; esac
		printf '%s\n' "$line"
	done < <(boot "$k" "$initrd" "$mode" "$1")
	if [ "$done" != 1 ]; then
		say "run: the guest did not finish; last 50 lines of $1:"
		tail -n 50 "$1" >&2
		return 1
	fi
	if [ "$mode" = bench ] && ! grep -q "^${2:-}bench.done 1\$" "$figures"; then
		say "run: the bench stopped before its end (BOOT_ARGS=bench_trace=1 shows where); last 20 lines of $1:"
		tail -n 20 "$1" >&2
		return 1
	fi
	if [ "${2:-}" = ref. ] && only_warnings "$1"; then
		# upstream's code, not the module's: a finding for the report
		say "run: the reference kernel warned (kept in the report):"
		grep -aE -A10 'WARNING:' "$1" | head -n 40 >&2
		echo "ref.kernel_warnings $(grep -ac 'WARNING:' "$1")" >> "$figures"
		echo "ref.kernel_warning_at $(grep -a -m1 'WARNING:' "$1" |
			sed -n 's/.* at \([^ ]*\) .*/\1/p')" >> "$figures"
	elif grep -aqE "$bad_console_line" "$1"; then
		say "run: the kernel console shows trouble:"
		grep -aE -A10 "$bad_console_line" "$1" | head -n 40 >&2
		return 1
	fi
}

# whether the console's trouble is WARNs only (with their stack traces)
only_warnings() { # CONSOLE_LOG
	grep -aqE '^\[ *[0-9]+\.[0-9]+\] WARNING:' "$1" &&
		! grep -aE "$bad_console_line" "$1" | grep -avE 'WARNING:|Call Trace' |
			grep -aqvE "$benign_console_line"
}

mode=${1:-demo}
# the same bench then runs on the reference kernel, upstream's espintcp
# built in (tests/interop/ref-kernel.sh; BENCH_UPSTREAM=0 skips it), with its
# figures under ref.; its kernel is built first, and a failure there
# leaves the module's figures and report as they are
ref=
if [ "$mode" = bench ] && [ "${BENCH_UPSTREAM:-1}" = 1 ] &&
	! ref=$("$root/tests/interop/ref-kernel.sh" 6.1); then
	say "run: building the reference kernel failed: the bench runs on the module's kernel only"
	ref=
fi
guest "$dir/console.log" || exit 1
if [ -n "$ref" ]; then
	say "run: the same bench on the reference kernel $ref (console: $dir/console-ref.log)"
	# the module's run's parts and rounds, but no profile, and no scale
	# part (it measures the module's connections)
	parts=$(echo " ${BOOT_ARGS:-} " | sed -n 's/.* bench_part=\([^ ]*\) .*/\1/p')
	parts=$(echo "${parts:-shaped,thru}" | tr ',' '\n' | grep -xE 'shaped|thru' | paste -sd, || true)
	if [ -z "$parts" ]; then
		say "run: bench_part has neither shaped nor thru: nothing to run on the reference kernel"
	else
		echo "ref.kernel $(basename "$(dirname "$ref")" | sed 's/-[0-9a-f]*$//')" >> "$figures"
		# a WARN there (upstream's espintcp once warned in
		# inet_sock_destruct) is reported, and does not stop the run
		KERNEL_IMAGE=$ref BOOT_ARGS="$(echo "${BOOT_ARGS:-}" | sed 's/bench_p[a-z]*=[^ ]*//g') bench_upstream=1 bench_part=$parts panic_on_warn=0" \
			guest "$dir/console-ref.log" ref. ||
			say "run: the reference kernel's run failed: the report shows the module alone"
	fi
fi
if [ "$mode" = bench ]; then
	"$root/tests/qemu/bench-report.sh" "$figures" "$k" \
		"$(modinfo -F version "$BUILD/$k/espintcp.ko")" "$BUILD/bench"
fi
