#!/bin/sh
# shellcheck shell=dash
# SPDX-License-Identifier: GPL-2.0
#
# Tests of shmdev-ctl, printed as TAP (kselftest style, with a Totals line).
# Needs /dev/shmdev; run as root for the tests that switch users.
#
#   CTL=/path/to/shmdev-ctl sh ctl_test.sh
#
# Exit status: 0 if nothing failed, 4 (skip) without /dev/shmdev, 1 else.

CTL=${CTL:-shmdev-ctl}
T=$(mktemp -d "${TMPDIR:-/tmp}/ctl_test.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
chmod 0755 "$T"
N=ctlt-$$
n=0 pass=0 fail=0 skip=0

ok() {
	n=$((n + 1)) pass=$((pass + 1))
	echo "ok $n - $1"
}

not_ok() {
	n=$((n + 1)) fail=$((fail + 1))
	echo "not ok $n - $1"
	[ -z "$2" ] || printf '%s\n' "$2" | sed 's/^/# /'
}

skip() {
	n=$((n + 1)) skip=$((skip + 1))
	echo "ok $n - $1 # SKIP $2"
}

# wait_in_use NAME COLUMN: waits (10 s at most) until column COLUMN of
# NAME's line in "shmdev-ctl list" (6: files, 7: mappings) is at least 1.
wait_in_use() {
	tries=0
	while [ $tries -lt 100 ]; do
		v=$("$CTL" list | awk -v n="$1" -v c="$2" '$2 == n { print $c }')
		[ "${v:-0}" -ge 1 ] && return 0
		sleep 0.1
		tries=$((tries + 1))
	done
	return 1
}

# run WANT_STATUS CMD...: runs CMD with stdout in $T/out, stderr in $T/err;
# true if it exited with WANT_STATUS.
run() {
	want=$1
	shift
	"$@" >"$T/out" 2>"$T/err"
	got=$?
	[ "$got" -eq "$want" ] && return 0
	why="exit status $got, not $want; stderr: $(cat "$T/err")"
	return 1
}

# check NAME WANT_STATUS CMD...
check() {
	name=$1
	shift
	if run "$@"; then ok "$name"; else not_ok "$name" "$why"; fi
}

# check_err NAME WANT_STATUS EXACT_STDERR CMD...
check_err() {
	name=$1 st=$2 msg=$3
	shift 3
	if ! run "$st" "$@"; then
		not_ok "$name" "$why"
	elif [ "$(cat "$T/err")" != "$msg" ]; then
		not_ok "$name" "stderr: '$(cat "$T/err")', wanted '$msg'"
	else
		ok "$name"
	fi
}

# out_has NAME PATTERN: the last command's stdout has a line matching PATTERN
out_has() {
	if grep -q -- "$2" "$T/out"; then ok "$1"; else
		not_ok "$1" "stdout lacks '$2': $(cat "$T/out")"
	fi
}

has_feature() {
	[ $((FEATURES & $1)) -ne 0 ]
}

echo "TAP version 13"
if [ ! -e /dev/shmdev ]; then
	echo "1..0 # SKIP /dev/shmdev not found: no module"
	exit 4
fi

"$CTL" --version >"$T/version" 2>&1
FEATURES=$(sed -n 's/.*features \(0x[0-9a-f]*\).*/\1/p' "$T/version")
FEATURES=${FEATURES:-0}
# The huge-page granule in MiB: the PMD size (2, 32 with 16 KiB pages), or
# the uapi's 2 where the kernel has no huge pages.
HUGE_MB=$(sed -n 's/.*huge pages \([0-9]*\)M$/\1/p' "$T/version")
HUGE_MB=${HUGE_MB:-2}
FEAT_RESIZE=8 FEAT_SEALS=16 FEAT_SETPERM=32 FEAT_LIST=64
ROOT=0
[ "$(id -u)" -ne 0 ] || ROOT=1

# --- usage and version ---
check version_exits_zero 0 "$CTL" --version
out_has version_names_tool_and_library '^shmdev-ctl [0-9][0-9.]* (libshmdev [0-9][0-9.]*)$'
check help_exits_zero 0 "$CTL" --help
out_has help_lists_verbs 'create NAME SIZE'
check no_verb_is_usage_error 2 "$CTL"
check unknown_verb_is_usage_error 2 "$CTL" frobnicate
check unknown_option_is_usage_error 2 "$CTL" --frob list
check create_without_size_is_usage_error 2 "$CTL" create "$N"
check create_bad_size_is_usage_error 2 "$CTL" create "$N" 12Q
check create_zero_size_is_usage_error 2 "$CTL" create "$N" 0
check create_overflowing_size_is_usage_error 2 "$CTL" create "$N" 16E
check create_bad_name_is_usage_error 2 "$CTL" create "a/b" 4K
check create_bad_mode_is_usage_error 2 "$CTL" create "$N" 4K --mode 0800
check json_on_create_is_usage_error 2 "$CTL" --json create "$N" 4K
check mode_on_info_is_usage_error 2 "$CTL" info "$N" --mode 0600
check seal_unknown_name_is_usage_error 2 "$CTL" seal "$N" shrink,bogus

# --- create, info ---
check_err create_huge_needs_granule_multiple 2 \
	"shmdev-ctl: a huge segment's size must be a multiple of ${HUGE_MB}M" \
	"$CTL" create "$N-h" "$((HUGE_MB * 3 / 2))M" --huge
check create_huge_succeeds 0 "$CTL" create "$N-h" "$((HUGE_MB * 2))M" --huge
check info_huge_succeeds 0 "$CTL" info "$N-h"
out_has info_huge_shows_huge '^huge: *yes, 0 huge pages$'
check info_huge_json_succeeds 0 "$CTL" --json info "$N-h"
out_has info_huge_json_has_huge '"huge":true,"huge_pages":0}$'
check_err resize_huge_needs_granule_multiple 1 \
	"shmdev-ctl: resize '$N-h': Invalid argument" \
	"$CTL" resize "$N-h" "$((HUGE_MB * 5 / 2))M"
check resize_huge_succeeds 0 "$CTL" resize "$N-h" "$((HUGE_MB * 3))M"
check rm_huge_succeeds 0 "$CTL" rm "$N-h"
check_err info_missing_reports_attach_enoent 1 \
	"shmdev-ctl: attach '$N': No such file or directory" "$CTL" info "$N"
check create_succeeds 0 "$CTL" create "$N" 64K
check_err create_existing_reports_eexist 1 \
	"shmdev-ctl: create '$N': File exists" "$CTL" create "$N" 4K
check info_succeeds 0 "$CTL" info "$N"
out_has info_shows_name "^name: *$N\$"
out_has info_shows_size '^size: *65536 (64K)$'
out_has info_shows_default_mode '^mode: *0600$'
out_has info_shows_no_files_but_its_own '^files: *0$'
out_has info_shows_no_seals '^seals: *-$'
out_has info_shows_not_huge '^huge: *no$'
out_has info_shows_nothing_swapped '^swapped: *0$'
out_has info_shows_not_locked '^locked: *no$'
check info_json_succeeds 0 "$CTL" --json info "$N"
out_has info_json_has_fields "^{\"id\":[0-9]*,\"name\":\"$N\",\"size\":65536,\"mode\":\"0600\","
out_has info_json_has_swap_and_lock '"swapped_pages":0,"locked":false,'
check create_locked_succeeds 0 "$CTL" create "$N-l" 64K --locked
check info_locked_json_succeeds 0 "$CTL" --json info "$N-l"
out_has info_locked_json_is_locked '"locked":true,'
check rm_locked_succeeds 0 "$CTL" rm "$N-l"
check locked_on_info_is_usage_error 2 "$CTL" info "$N" --locked
check create_with_mode_succeeds 0 "$CTL" create "$N-m" 1M --mode 640
run 0 "$CTL" info "$N-m"
out_has create_with_mode_sets_mode '^mode: *0640$'
out_has create_with_size_suffix '^size: *1048576 (1M)$'

# --- write, cat ---
i=0
while [ $i -lt 100 ]; do
	echo "line $i of the test data"
	i=$((i + 1))
done >"$T/data"
len=$(wc -c <"$T/data")
check write_from_file_succeeds 0 sh -c "'$CTL' write '$N' <'$T/data'"
check cat_succeeds 0 "$CTL" cat "$N"
if [ "$(wc -c <"$T/out")" -eq 65536 ]; then
	ok cat_prints_whole_segment
else
	not_ok cat_prints_whole_segment "$(wc -c <"$T/out") bytes"
fi
head -c "$len" "$T/out" >"$T/back"
if cmp -s "$T/data" "$T/back"; then ok cat_returns_written_data; else
	not_ok cat_returns_written_data
fi
if [ -z "$(tail -c +$((len + 1)) "$T/out" | tr -d '\000')" ]; then
	ok cat_rest_of_segment_is_zero
else
	not_ok cat_rest_of_segment_is_zero
fi
check write_from_pipe_succeeds 0 sh -c "echo piped | '$CTL' write '$N'"
run 0 "$CTL" cat "$N"
if [ "$(head -n 1 "$T/out")" = piped ]; then ok cat_after_pipe_write; else
	not_ok cat_after_pipe_write "$(head -n 1 "$T/out")"
fi
dd if=/dev/zero bs=1024 count=65 2>/dev/null | tr '\000' x >"$T/big"
check_err write_too_large_file_is_refused 1 \
	"shmdev-ctl: write '$N': input (66560 bytes) is larger than the segment (65536 bytes)" \
	sh -c "'$CTL' write '$N' <'$T/big'"
run 0 "$CTL" cat "$N"
if [ "$(head -n 1 "$T/out")" = piped ]; then ok refused_write_changed_nothing; else
	not_ok refused_write_changed_nothing
fi
check_err write_too_large_pipe_fails 1 \
	"shmdev-ctl: write '$N': input is larger than the segment (65536 bytes); only the first 65536 bytes were written" \
	sh -c "cat '$T/big' | '$CTL' write '$N'"
dd if=/dev/zero bs=1024 count=64 2>/dev/null | tr '\000' y >"$T/exact"
check write_exact_size_succeeds 0 sh -c "cat '$T/exact' | '$CTL' write '$N'"
run 0 "$CTL" cat "$N"
if cmp -s "$T/exact" "$T/out"; then ok cat_after_exact_write; else
	not_ok cat_after_exact_write
fi

# --- list ---
if has_feature $FEAT_LIST; then
	check list_succeeds 0 "$CTL" list
	out_has list_has_header '^ID  *NAME  *SIZE  *OWNER  *MODE  *FILES  *MAPPINGS  *SEALS$'
	out_has list_shows_segment "^[0-9][0-9]*  *$N  *64K  *[^ ]*  *0600  *0  *0  *-\$"
	check list_json_succeeds 0 "$CTL" list --json
	out_has list_json_is_array_with_segment "^\[.*{\"id\":[0-9]*,\"name\":\"$N\",\"size\":65536,.*\]\$"
else
	skip list_succeeds "module lacks SHMDEV_FEAT_LIST"
fi

# --- chmod, chown ---
if has_feature $FEAT_SETPERM; then
	check chmod_succeeds 0 "$CTL" chmod "$N" 0604
	run 0 "$CTL" info "$N"
	out_has chmod_changes_mode '^mode: *0604$'
	check chmod_bad_mode_is_usage_error 2 "$CTL" chmod "$N" 1777
	check_err chmod_missing_reports_enoent 1 \
		"shmdev-ctl: chmod '$N-none': No such file or directory" \
		"$CTL" chmod "$N-none" 0600
	if [ $ROOT -eq 1 ]; then
		check chown_succeeds 0 "$CTL" chown "$N-m" 1000:1001
		run 0 "$CTL" info "$N-m"
		out_has chown_changes_owner '^owner: .*(1000)$'
		out_has chown_changes_group '^group: .*(1001)$'
		check chown_group_only_succeeds 0 "$CTL" chown "$N-m" :1000
		run 0 "$CTL" info "$N-m"
		out_has chown_group_only_keeps_owner '^owner: .*(1000)$'
		out_has chown_group_only_changes_group '^group: .*(1000)$'
	else
		skip chown_succeeds "needs root"
	fi
	check chown_unknown_user_is_usage_error 2 "$CTL" chown "$N" no-such-user-x
else
	skip chmod_succeeds "module lacks SHMDEV_FEAT_SETPERM"
fi

# --- resize, seal ---
if has_feature $FEAT_RESIZE; then
	check resize_succeeds 0 "$CTL" resize "$N" 128K
	run 0 "$CTL" info "$N"
	out_has resize_changes_size '^size: *131072 (128K)$'
	check resize_bad_size_is_usage_error 2 "$CTL" resize "$N" 1Z
else
	skip resize_succeeds "module lacks SHMDEV_FEAT_RESIZE"
fi
if has_feature $FEAT_SEALS; then
	check seal_succeeds 0 "$CTL" seal "$N" shrink,grow
	run 0 "$CTL" info "$N"
	out_has info_shows_seals '^seals: *shrink,grow$'
	if has_feature $FEAT_RESIZE; then
		check_err resize_sealed_reports_eperm 1 \
			"shmdev-ctl: resize '$N': Operation not permitted" \
			"$CTL" resize "$N" 4K
	fi
	check seal_write_succeeds 0 "$CTL" seal "$N" write
	check write_to_write_sealed_fails 1 sh -c "echo x | '$CTL' write '$N'"
else
	skip seal_succeeds "module lacks SHMDEV_FEAT_SEALS"
fi

# --- another user ---
if [ $ROOT -eq 1 ] && id tester >/dev/null 2>&1; then
	"$CTL" create "$N-p" 4K --mode 0600
	check_err other_user_attach_reports_eacces 1 \
		"shmdev-ctl: attach '$N-p': Permission denied" \
		su -s /bin/sh tester -c "'$CTL' cat '$N-p'"
	check_err other_user_rm_reports_eperm 1 \
		"shmdev-ctl: rm '$N-p': Operation not permitted" \
		su -s /bin/sh tester -c "'$CTL' rm '$N-p'"
	"$CTL" rm "$N-p"
else
	skip other_user_attach_reports_eacces "needs root and user tester"
fi

# --- the device's own mode, and no device ---
# Root changes /dev/shmdev for a moment: readable by all, writable by
# nobody else (as "0664, group shmdev" to a user outside the group); then
# hides it, as when the module is not loaded.
DEVMODE=$(stat -c %a /dev/shmdev 2>/dev/null)
if [ $ROOT -eq 1 ] && [ -n "$DEVMODE" ] && id tester >/dev/null 2>&1; then
	"$CTL" create "$N-r" 4K --mode 0644
	chmod 0644 /dev/shmdev
	check readonly_device_lets_others_list 0 \
		su -s /bin/sh tester -c "'$CTL' list"
	if grep -q "$N-r" "$T/out"; then
		ok readonly_device_list_shows_segment
	else
		not_ok readonly_device_list_shows_segment "$(cat "$T/out")"
	fi
	check readonly_device_lets_others_read 0 \
		su -s /bin/sh tester -c "'$CTL' cat '$N-r'"
	check_err readonly_device_refuses_create_with_advice 1 \
		"shmdev-ctl: permission denied on /dev/shmdev for writing: join the group that owns it (usually shmdev: 'usermod -aG shmdev USER' as root, then log in again)" \
		su -s /bin/sh tester -c "'$CTL' create '$N-r2' 4K"
	chmod "$DEVMODE" /dev/shmdev
	"$CTL" rm "$N-r"
	mv /dev/shmdev /dev/shmdev.ctl-test
	check_err no_device_says_module_not_loaded 1 \
		"shmdev-ctl: the shmdev module is not loaded (/dev/shmdev is missing): run 'modprobe shmdev' as root" \
		"$CTL" list
	mv /dev/shmdev.ctl-test /dev/shmdev
else
	skip readonly_device_lets_others_list "needs root, user tester and /dev/shmdev"
fi

# --- list -p and -t, prune ---
if "$CTL" list -p >/dev/null 2>&1; then
	"$CTL" create "$N-s" 4K --mode 0644
	check list_p_succeeds 0 "$CTL" list -p
	line=$(grep " $N-s " "$T/out")
	# ID NAME OWNER CPID LPID: the creator, which also detached last
	# (its file went when it exited).
	# shellcheck disable=SC2086 # the columns
	set -- $line
	if [ "$(head -n1 "$T/out" | tr -s ' ')" = "ID NAME OWNER CPID LPID" ] &&
		[ "$4" -gt 0 ] && [ "$5" -eq "$4" ]; then
		ok list_p_shows_cpid_and_lpid
	else
		not_ok list_p_shows_cpid_and_lpid "$(cat "$T/out")"
	fi
	"$CTL" cat "$N-s" >/dev/null
	check list_t_succeeds 0 "$CTL" list -t
	line=$(grep " $N-s " "$T/out")
	# CREATED ATTACHED DETACHED CHANGED: all set now but nothing at "-".
	if head -n1 "$T/out" | grep -q 'CREATED *ATTACHED *DETACHED *CHANGED' &&
		[ "$(printf '%s\n' "$line" |
			grep -o '[0-9]\{4\}-[0-9][0-9]-[0-9][0-9] [0-9][0-9]:[0-9][0-9]:[0-9][0-9]' |
			wc -l)" -eq 4 ]; then
		ok list_t_shows_four_times
	else
		not_ok list_t_shows_four_times "$(cat "$T/out")"
	fi
	check list_p_json 0 "$CTL" --json list -p
	if grep -q "\"name\":\"$N-s\",\"uid\":[0-9]*,\"cpid\":[0-9]*,\"lpid\":[0-9]*," "$T/out"; then
		ok list_p_json_has_pids
	else
		not_ok list_p_json_has_pids "$(cat "$T/out")"
	fi
	check_err pids_only_for_list 2 "shmdev-ctl: -p and -t apply to list only
Try 'shmdev-ctl --help' for more information." "$CTL" info -p "$N-s"

	"$CTL" rm "$N-s"

else
	skip list_p_succeeds "module without SHMDEV_IOC_STAT"
fi

# --- limits of an IPC namespace ---
if [ $ROOT -eq 1 ] && unshare -i true 2>/dev/null &&
	"$CTL" limits >/dev/null 2>&1; then
	check limits_shows_table 0 "$CTL" limits
	if grep -q '^segments ' "$T/out" && grep -q '^total ' "$T/out"; then
		ok limits_table_has_rows
	else
		not_ok limits_table_has_rows "$(cat "$T/out")"
	fi
	# In a namespace of its own: set, fill, and the message at the limit.
	check_err limits_enforced_in_new_ipc_namespace 1 \
		"shmdev-ctl: create '$N-l2': No space left on device" \
		unshare -i sh -c "'$CTL' limits segments=1 segment-size=8K >/dev/null &&
			'$CTL' create '$N-l1' 8K && '$CTL' create '$N-l2' 4K"
	check_err limits_segment_size_in_new_ipc_namespace 1 \
		"shmdev-ctl: create '$N-l1': File too large" \
		unshare -i sh -c "'$CTL' limits segment-size=8K >/dev/null &&
			'$CTL' create '$N-l1' 12K"
	check limits_json_in_new_ipc_namespace 0 \
		unshare -i sh -c "'$CTL' limits total=1M >/dev/null &&
			'$CTL' create '$N-l1' 4K && '$CTL' --json limits"
	if grep -q '"max_total_bytes":1048576,"nr_segments":1,"total_bytes":4096' "$T/out"; then
		ok limits_json_reports_usage
	else
		not_ok limits_json_reports_usage "$(cat "$T/out")"
	fi
	check limits_host_unaffected 0 "$CTL" create "$N-l1" 12K
	"$CTL" rm "$N-l1"
	if id tester >/dev/null 2>&1; then
		check_err limits_set_refused_for_ordinary_user 1 \
			"shmdev-ctl: limits: Operation not permitted (raising needs CAP_SYS_ADMIN in the initial user namespace, lowering CAP_SYS_ADMIN over the IPC namespace's owner)" \
			su -s /bin/sh tester -c "'$CTL' limits segments=1"
	fi
	check_err limits_rejects_unknown_limit 2 \
		"shmdev-ctl: unknown limit 'pages=1' (segments=N, segment-size=SIZE, total=SIZE; none for the module's)
Try 'shmdev-ctl --help' for more information." "$CTL" limits pages=1
else
	skip limits_shows_table "needs root, unshare and a module with SHMDEV_IOC_LIMITS"
fi

# --- rm ---
check rm_succeeds 0 "$CTL" rm "$N"
check_err rm_missing_reports_enoent 1 \
	"shmdev-ctl: rm '$N': No such file or directory" "$CTL" rm "$N"
check_err rm_continues_after_failure 1 \
	"shmdev-ctl: rm '$N': No such file or directory" "$CTL" rm "$N" "$N-m"
check rm_removed_the_other_name 1 "$CTL" info "$N-m"

# --- who ---
if "$CTL" list -p >/dev/null 2>&1; then
	"$CTL" create "$N-w" 4K
	mkfifo "$T/fifo-w"
	# shmdev-ctl write holds the segment open and its first chunk mapped
	# while it waits for input.
	"$CTL" write "$N-w" <"$T/fifo-w" &
	writer=$!
	exec 5>"$T/fifo-w"
	wait_in_use "$N-w" 7
	check who_succeeds 0 "$CTL" who "$N-w"
	if [ "$(head -n1 "$T/out" | tr -s ' ')" = "PID USER COMMAND FDS MAPPINGS" ] &&
		grep -q '^[0-9]* *root *shmdev-ctl *[0-9]*(rw) *1$' "$T/out" &&
		[ "$(wc -l <"$T/out")" -eq 2 ]; then
		ok who_shows_the_holder
	else
		not_ok who_shows_the_holder "$(cat "$T/out")"
	fi
	exec 5>&-
	wait $writer
	check who_after_close 0 "$CTL" who "$N-w"
	if [ "$(wc -l <"$T/out")" -eq 1 ]; then
		ok who_shows_nobody_after_close
	else
		not_ok who_shows_nobody_after_close "$(cat "$T/out")"
	fi
	check_err who_missing_name 1 "shmdev-ctl: who '$N-none': No such file or directory" \
		"$CTL" who "$N-none"
	"$CTL" rm "$N-w"
else
	skip who_succeeds "module without SHMDEV_IOC_STAT"
fi

# --- prune ---
# As user tester, who may remove only its own segments (root would prune
# every abandoned segment of the system), and last, when the other tests'
# segments are gone: an open segment stays, an unused one goes;
# --dry-run and --unused-for leave them.
if [ $ROOT -eq 1 ] && id tester >/dev/null 2>&1 &&
	"$CTL" list -p >/dev/null 2>&1; then
	as_tester() { su -s /bin/sh tester -c "$1"; }
	as_tester "'$CTL' create '$N-u' 4K && '$CTL' create '$N-s' 4K"
	check prune_dry_run 0 as_tester "'$CTL' prune --dry-run"
	if grep -qx "would remove $N-u" "$T/out"; then
		ok prune_dry_run_names_unused
	else
		not_ok prune_dry_run_names_unused "$(cat "$T/out")"
	fi
	check prune_dry_run_removed_nothing 0 "$CTL" info "$N-u"
	check prune_unused_for_leaves_recent 0 \
		as_tester "'$CTL' prune --unused-for 1d"
	check prune_unused_for_recent_still_there 0 "$CTL" info "$N-u"
	# shmdev-ctl write keeps $N-s open while it waits for input.
	mkfifo "$T/fifo"
	chmod 0666 "$T/fifo"
	as_tester "'$CTL' write '$N-s' <'$T/fifo'" &
	holder=$!
	exec 4>"$T/fifo"
	wait_in_use "$N-s" 6
	check prune_succeeds 0 as_tester "'$CTL' prune"
	if grep -qx "removed $N-u" "$T/out" &&
		! grep -q "$N-s" "$T/out"; then
		ok prune_removed_only_unused
	else
		not_ok prune_removed_only_unused "$(cat "$T/out")"
	fi
	check prune_left_segment_in_use 0 "$CTL" info "$N-s"
	check prune_removed_unused 1 "$CTL" info "$N-u"
	exec 4>&-
	wait $holder
	check prune_removes_it_once_closed 0 as_tester "'$CTL' prune"
	check prune_removed_closed_segment 1 "$CTL" info "$N-s"
else
	skip prune_dry_run "needs root, user tester and SHMDEV_IOC_STAT"
fi

echo "1..$n"
echo "# Totals: pass:$pass fail:$fail xfail:0 xpass:0 skip:$skip error:0"
[ $fail -eq 0 ]
