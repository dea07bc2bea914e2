#!/bin/bash
# tests/qemu/lsw-table.sh LABEL=RESULTS...: the verdict of each of
# libreswan's ESP-in-TCP scenarios (51-libreswan-tcp.sh) in each run, from
# the guests' result files (build/qemu/*/console.results), as a Markdown
# table on stdout: "passed", "FAILED", "skipped (N)" (the reasons listed
# below it), or "-" (not run).
# A scenario failed if any result line of it did; skipped if its one line
# is a SKIP.
#
# --verdicts RESULTS: "SCENARIO VERDICT" lines of one run instead, for
# check.sh's comparison of the module with upstream.
set -eu

verdicts() { # RESULTS
	awk '
	match($0, /^(not )?ok - ikev2-tcp-[a-z0-9-]+/) {
		s = $0
		sub(/^(not )?ok - /, "", s)
		sub(/[:# ].*/, "", s)
		if (!(s in v)) order[++n] = s
		if (/^not ok/) v[s] = "FAILED"
		else if (/# SKIP/) {
			why = $0
			sub(/.*# SKIP /, "", why)
			v[s] = "skipped: " why
		} else if (v[s] != "FAILED") v[s] = "passed"
	}
	END { for (i = 1; i <= n; i++) print order[i], v[order[i]] }' "$1"
}

if [ "${1:-}" = --verdicts ]; then
	verdicts "$2"
	exit 0
fi

declare -A cell
labels=() scens=()
for a in "$@"; do
	label=${a%%=*} file=${a#*=}
	labels+=("$label")
	[ -f "$file" ] || continue
	while read -r s v; do
		[ -n "${cell[$s]+x}" ] || scens+=("$s")
		cell[$s]=1
		cell[$s/$label]=$v
	done < <(verdicts "$file")
done
printf '| scenario |'
printf ' %s |' "${labels[@]}"
printf '\n|---|'
printf -- '---|%.0s' "${labels[@]}"
printf '\n'
# a skip's reason once, below the table, by its number
declare -A note_nr
notes=()
for s in "${scens[@]}"; do
	printf '| %s |' "${s#ikev2-tcp-}"
	for l in "${labels[@]}"; do
		v=${cell[$s/$l]:--}
		case $v in
		"skipped: "*)
			if [ -z "${note_nr[$v]+x}" ]; then
				notes+=("${v#skipped: }")
				note_nr[$v]=${#notes[@]}
			fi
			v="skipped (${note_nr[$v]})" ;;
		esac
		printf ' %s |' "$v"
	done
	printf '\n'
done
[ "${#notes[@]}" = 0 ] || echo
for i in "${!notes[@]}"; do echo "$((i + 1)). ${notes[$i]}"; done
