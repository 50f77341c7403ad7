#!/bin/sh
# shellcheck shell=dash
# SPDX-License-Identifier: GPL-2.0
#
# VM payload of scripts/pkg-check.sh (busybox sh, as root, after /init has
# insmod'ed /shmdev.ko): the installed module tree, the udev rule and the
# packaged tools, as an administrator and users would meet them. Prints TAP
# and a kselftest-style "# Totals:" line; exits 1 if a test failed.
#
# Expects in the initramfs (vm-run.sh -a SRC:DEST, see pkg-check.sh):
#   /lib/modules/$(uname -r)/updates/dkms/shmdev.ko*  as `dkms install` left it
#   /etc/udev/rules.d/60-shmdev.rules, /etc/modprobe.d/shmdev.conf,
#   /etc/modules-load.d/shmdev.conf                  from packaging/
#   /usr/local/sbin/kmod                             the host's kmod
#   /pkgroot                 libshmdev1 and shmdev-utils unpacked (dpkg-deb -x)
#   /etc/shmdev-version      the file VERSION
# There is no udev in the VM: the rule's GROUP and MODE are read from the
# rule file and applied with chgrp/chmod, so a wrong rule fails the tests.
# Users: tester (1000) is made a member of group shmdev, tester2 (1001) not.

KVER=$(uname -r)
VERSION=$(cat /etc/shmdev-version 2>/dev/null)
RULE=/etc/udev/rules.d/60-shmdev.rules
# The group the README documents for /dev/shmdev.
DEV_GROUP=shmdev
n=0
pass=0
fail=0

ok() {
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $n - $2"
		pass=$((pass + 1))
	else
		echo "not ok $n - $2"
		fail=$((fail + 1))
	fi
}

# t NAME CMD...: run CMD, its output as TAP comments.
t() {
	name=$1
	shift
	out=$("$@" 2>&1)
	rc=$?
	[ -z "$out" ] || printf '%s\n' "$out" | sed 's/^/# /'
	ok "$rc" "$name"
}

# kmod's tools (the initramfs's busybox ones know nothing of .ko.xz).
mkdir -p /kmod-bin
for tool in modprobe depmod modinfo rmmod lsmod insmod; do
	ln -sf /usr/local/sbin/kmod "/kmod-bin/$tool"
done
PATH=/kmod-bin:$PATH
export PATH
# busybox sh runs its own applet of a name before looking at PATH, and
# busybox's depmod takes a release with fewer than three numbers (7.3-amd64)
# for a module file: call kmod's tools by their path.
modprobe() { /kmod-bin/modprobe "$@"; }
depmod() { /kmod-bin/depmod "$@"; }
modinfo() { /kmod-bin/modinfo "$@"; }
rmmod() { /kmod-bin/rmmod "$@"; }
lsmod() { /kmod-bin/lsmod "$@"; }
insmod() { /kmod-bin/insmod "$@"; }

echo "TAP version 13"
echo "# kernel $KVER, shmdev $VERSION"

# --- the module from the installed tree ------------------------------------

param() {
	cat "/sys/module/shmdev/parameters/$1"
}

# Loads what modules-load.d lists, as systemd-modules-load does at boot.
modules_load() {
	grep -v -e '^[#;]' -e '^[[:space:]]*$' /etc/modules-load.d/shmdev.conf |
		while read -r mod; do
			modprobe "$mod" || exit 1
		done
}

modprobe_installed() {
	rmmod shmdev || return 1
	[ ! -e /sys/module/shmdev ] || return 1
	depmod -a "$KVER" || return 1
	grep 'shmdev' "/lib/modules/$KVER/modules.dep" || return 1
	modules_load || return 1
	[ -d /sys/module/shmdev ] || { echo "modules-load.d did not load shmdev"; return 1; }
	file=$(modinfo -F filename shmdev)
	echo "modinfo: $file"
	case $file in
	"/lib/modules/$KVER/updates/dkms/shmdev.ko"*) ;;
	*) return 1 ;;
	esac
	v=$(cat /sys/module/shmdev/version)
	echo "/sys/module/shmdev/version: $v"
	[ "$v" = "$VERSION" ] || return 1
	[ -c /dev/shmdev ] || return 1
	# The example as shipped changes nothing: the defaults.
	[ "$(param max_segments)" = 4096 ]
}
t "modprobe_from_installed_module_tree" modprobe_installed

# Every example line of modprobe.d, uncommented, takes effect.
modprobe_d_example() {
	conf=/etc/modprobe.d/shmdev.conf
	sed -n 's/^#\(options shmdev .*\)/\1/p' "$conf" >/tmp/shmdev-options
	[ -s /tmp/shmdev-options ] || { echo "no options examples in $conf"; return 1; }
	cp "$conf" /tmp/shmdev.conf.orig
	cp /tmp/shmdev-options "$conf"
	rmmod shmdev && modprobe shmdev
	rc=$?
	cp /tmp/shmdev.conf.orig "$conf"
	[ "$rc" = 0 ] || return 1
	for opt in $(sed 's/^options shmdev //' /tmp/shmdev-options); do
		p=${opt%%=*}
		want=${opt#*=}
		have=$(param "$p")
		echo "$p: $have (example: $want)"
		[ "$have" = "$want" ] || return 1
	done
	rmmod shmdev && modprobe shmdev
}
t "modprobe_d_example_options_take_effect" modprobe_d_example

for p in max_segments max_segment_size max_total_bytes; do
	[ -e "/sys/module/shmdev/parameters/$p" ] ||
		echo "# parameter $p missing"
done

# --- the udev rule ---------------------------------------------------------

# rule_value KEY: the value of KEY="..." in the rule's line for the device.
rule_value() {
	grep -E '(^|[ ,])KERNEL=="shmdev"' "$RULE" | grep -v '^[[:space:]]*#' |
		sed -n "s/.*[ ,]$1=\"\\([^\"]*\\)\".*/\\1/p" | head -n 1
}

apply_rule() {
	group=$(rule_value GROUP)
	mode=$(rule_value MODE)
	echo "rule: GROUP=$group MODE=$mode"
	[ -n "$group" ] && [ -n "$mode" ] || return 1
	# The group exists, tester is a member and tester2 is not.
	grep -q "^$DEV_GROUP:" /etc/group ||
		echo "$DEV_GROUP:x:990:tester" >>/etc/group
	chgrp "$group" /dev/shmdev && chmod "$mode" /dev/shmdev || return 1
	ls -l /dev/shmdev
	[ "$(stat -c '%G %a' /dev/shmdev)" = "$DEV_GROUP 660" ]
}
t "udev_rule_gives_dev_shmdev_to_group_shmdev_mode_0660" apply_rule

t "group_member_can_open_dev_shmdev" \
	su -s /bin/sh tester -c ': <>/dev/shmdev'

not_open() {
	if su -s /bin/sh "$1" -c ': </dev/shmdev' 2>&1; then
		echo "$1 could open /dev/shmdev"
		return 1
	fi
	return 0
}
t "non_member_cannot_open_dev_shmdev" not_open tester2

# --- the packaged library and tool -----------------------------------------

install_packages() {
	cp -a /pkgroot/usr/. /usr/ || return 1
	v=$(shmdev-ctl --version) || return 1
	echo "shmdev-ctl --version: $v"
	case $v in
	*"$VERSION"*) ;;
	*) return 1 ;;
	esac
}
t "packaged_shmdev_ctl_runs" install_packages

member_uses_segment() {
	su -s /bin/sh tester -c '
		set -e
		shmdev-ctl create pkgcheck 4096
		echo "hello from tester" | shmdev-ctl write pkgcheck
		shmdev-ctl list
		shmdev-ctl cat pkgcheck | grep -q "hello from tester"
		shmdev-ctl rm pkgcheck'
}
t "group_member_creates_writes_reads_removes_segment" member_uses_segment

non_member_ctl() {
	if su -s /bin/sh tester2 -c 'shmdev-ctl list' 2>&1; then
		return 1
	fi
	return 0
}
t "non_member_shmdev_ctl_fails" non_member_ctl

# Access to the device is not access to every segment: a segment of root
# with mode 0600 stays closed to a member of the group.
segment_permissions() {
	shmdev-ctl create --mode 600 pkgcheck-root 4096 || return 1
	echo secret | shmdev-ctl write pkgcheck-root || return 1
	rc=0
	if su -s /bin/sh tester -c 'shmdev-ctl cat pkgcheck-root' 2>&1; then
		echo "tester read a 0600 segment of root"
		rc=1
	fi
	shmdev-ctl rm pkgcheck-root || rc=1
	return "$rc"
}
t "segment_mode_still_checked_for_group_members" segment_permissions

t "rmmod_after_use" rmmod shmdev

echo "1..$n"
echo "# Totals: pass:$pass fail:$fail xfail:0 xpass:0 skip:0 error:0"
[ "$fail" -eq 0 ]
