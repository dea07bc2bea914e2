#!/bin/bash
# make run: boot the first kernel of build/matrix (Debian's 6.1) and run
# the IKE-over-TCP demo (tests/guest/demo.sh) instead of the tests; its
# output is streamed live. "run.sh bench" (make bench) runs
# tests/guest/bench.sh instead, and tests/qemu/bench-report.sh turns its
# figures into build/bench/results.json and plots. The kernel console goes
# to build/qemu/KVER/console.log.
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
done=0
figures=$BUILD/bench/figures
mkdir -p "$BUILD/bench"
: > "$figures"
while IFS= read -r line; do
	if [ "$line" = "# guest-done" ]; then done=1; continue; fi
	# the bench's figures, for bench-report.sh
	case $line in "@ "*) printf '%s\n' "${line#@ }" >> "$figures"; continue ;; esac
	printf '%s\n' "$line"
done < <(boot "$k" "$initrd" "${1:-demo}" "$dir/console.log")
if [ "$done" != 1 ]; then
	say "run: the guest did not finish; last 50 lines of $dir/console.log:"
	tail -n 50 "$dir/console.log" >&2
	exit 1
fi
if grep -aqE "$bad_console_line" "$dir/console.log"; then
	say "run: the kernel console shows trouble:"
	grep -aE -A10 "$bad_console_line" "$dir/console.log" | head -n 40 >&2
	exit 1
fi
if [ "${1:-}" = bench ]; then
	"$root/tests/qemu/bench-report.sh" "$figures" "$k" \
		"$(modinfo -F version "$BUILD/$k/espintcp.ko")" "$BUILD/bench"
fi
