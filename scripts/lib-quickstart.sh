# shellcheck shell=bash disable=SC2153
# SPDX-License-Identifier: GPL-2.0
#
# The README's Quick start, followed literally on a booted Debian 12
# system; sourced by pkg-check.sh, nothing here runs on its own.
#
#   qs_prepare KVER   a bookworm root file system with what the Quick
#                     start's apt-get line installs, linux-image-KVER (for
#                     its initramfs) and udev, and a user; cached
#   qs_run KVER       the Quick start's commands, taken from README.md,
#                     in a VM that boots that file system from a virtio
#                     disk; sets QS_TAP (the results) and QS_PROBLEMS
#
# The commands are not written here: qs_extract takes them from README.md
# (the Quick start's shell blocks, the usermod line of its prose, the first
# C example of "Use from C" and the cc line that builds it), so that the
# README cannot drift from what works. The VM has no network: the packages
# are installed beforehand, and the README's apt-get line then finds them
# there (the package lists stay in the image for it).

QS_USER_DEFAULT=alice

# (WORK, ROOT and the chroot helpers are pkg-check.sh's.)

# The packages the image holds beyond the DKMS chroot's (chroot_packages,
# which has the README apt-get line's dkms and headers already).
qs_packages() {
	printf '%s\n' build-essential "linux-image-$1" udev kmod
}

qs_tarball() {
	local sum
	sum=$( (chroot_packages "$1"; qs_packages "$1") | md5sum | cut -c1-8)
	printf '%s\n' "$SHMDEV_CACHE/chroot/$CHROOT_SUITE-quickstart-$1-$sum.tar.zst"
}

# qs_prepare KVER: the image's file system, as a cached tarball.
qs_prepare() {
	local kver=$1 tarball dir
	tarball=$(qs_tarball "$kver")
	if [[ -s $tarball ]]; then
		log "cached: $tarball"
		return
	fi
	make_chroot_tarball "$kver"
	find "$SHMDEV_CACHE/chroot" -maxdepth 1 \
		-name "$CHROOT_SUITE-quickstart-*.tar.zst" -delete
	dir=$(mktemp -d "$SHMDEV_CACHE/chroot/qs.XXXXXX")
	# shellcheck disable=SC2064
	trap "chroot_remove '$dir'" EXIT
	tar -C "$dir" --zstd -xf "$(chroot_tarball "$kver")"
	# shellcheck disable=SC2046
	chroot_apt_install "$dir" "$WORK/logs/quickstart-image.log" \
		$(qs_packages "$kver")
	[[ -s $dir/boot/initrd.img-$kver && -s $dir/boot/vmlinuz-$kver ]] ||
		{ echo "no kernel or initramfs in the image"; return 1; }
	chroot "$dir" adduser --disabled-password --gecos '' "$QS_USER_DEFAULT" \
		>>"$WORK/logs/quickstart-image.log" 2>&1
	# The package lists stay: the README's apt-get line needs them.
	chroot_pack "$dir" "$tarball"
}

# qs_blocks FILE SECTION LANG: the fenced LANG blocks of SECTION (a "## "
# heading) of FILE, each ended by a line "%%END%%".
qs_blocks() {
	awk -v sect="## $2" -v lang="$3" '
		/^## / { insect = ($0 == sect) }
		insect && $0 == "```" lang { inblock = 1; next }
		inblock && /^```/ { inblock = 0; print "%%END%%"; next }
		inblock { print }
	' "$1"
}

# qs_block N: the Nth block (from 1) of qs_blocks' output on stdin.
qs_block() {
	awk -v want="$1" '$0 == "%%END%%" { n++; next } n == want - 1 { print }'
}

# qs_extract DIR: the README's commands into DIR (the image's /quickstart).
qs_extract() {
	local dir=$1 readme=$ROOT/README.md user
	mkdir -p "$dir"
	qs_blocks "$readme" "Quick start" sh | qs_block 1 >"$dir/root.sh"
	qs_blocks "$readme" "Quick start" sh | qs_block 2 >"$dir/user.sh"
	# The usermod of the prose: "usermod -aG shmdev alice" for the user alice.
	sed -n '/^## Quick start/,/^## /p' "$readme" | tr '\n' ' ' |
		grep -o 'usermod -aG shmdev [a-z][a-z0-9_-]*' | head -n 1 >"$dir/group.sh"
	user=$(awk '{ print $4 }' "$dir/group.sh")
	printf '%s\n' "${user:-$QS_USER_DEFAULT}" >"$dir/user"
	qs_blocks "$readme" "Use from C" c | qs_block 1 >"$dir/prog.c"
	# shellcheck disable=SC2016 # the backquotes of Markdown
	sed -n '/^## Use from C/,/^## /p' "$readme" | tr '\n' ' ' |
		grep -o '`cc prog\.c [^`]*`' | head -n 1 | tr -d '`' >"$dir/build.sh"
	local f
	for f in root.sh user.sh group.sh prog.c build.sh; do
		[[ -s $dir/$f ]] || { echo "README.md: nothing found for $f"; return 1; }
		echo "== /quickstart/$f"
		cat "$dir/$f"
	done
	[[ $user == "$QS_USER_DEFAULT" ]] ||
		{ echo "README.md names user $user; the image has $QS_USER_DEFAULT"; return 1; }
}

# qs_run KVER: the image with the source tree and the extracted commands,
# booted (in run_test's subshell: any failure here is the test's). The
# console log is $WORK/quickstart/console.log, for qs_report.
qs_run() {
	local kver=$1 work=$WORK/quickstart root img rc=0
	root=$work/root
	img=$work/disk.img
	chroot_remove "$root"
	rm -rf "$work"
	mkdir -p "$root"
	tar -C "$root" --zstd -xf "$(qs_tarball "$kver")"
	copy_tree "$root/root/shmdev"
	qs_extract "$root/quickstart"
	install -m 0755 "$SHMDEV_SCRIPTS/vm/quickstart-init" "$root/sbin/shmdev-quickstart"
	# The image's own kernel and initramfs, as its boot loader would load.
	cp "$root/boot/vmlinuz-$kver" "$work/vmlinuz"
	cp "$root/boot/initrd.img-$kver" "$work/initrd.img"
	truncate -s 6G "$img"
	mkfs.ext4 -q -F -L shmdev-qs -d "$root" "$img"
	rm -rf "$root"
	QS_NONCE=$(new_nonce)
	echo "$QS_NONCE" >"$work/nonce"
	log "booting the Quick start image (console log: $work/console.log)"
	qemu_watched "$work/console.log" "QS-BEGIN $QS_NONCE" \
		"${QS_VM_TIMEOUT:-1500}" qemu-system-x86_64 \
		-accel tcg,thread=multi -smp "$VM_SMP" -m 2G \
		-nographic -no-reboot -nic none \
		-drive "file=$img,if=virtio,format=raw" \
		-kernel "$work/vmlinuz" -initrd "$work/initrd.img" \
		-append "console=ttyS0 root=/dev/vda rw init=/sbin/shmdev-quickstart panic=-1 oops=panic loglevel=4 SHMDEV_NONCE=$QS_NONCE" ||
		rc=$?
	rm -f "$img"
	if ((rc)); then
		echo "QEMU exited with status $rc (124: timed out)"
		tail -n 30 "$work/console.log"
		return 1
	fi
}

# qs_report: the steps of the Quick start VM as TAP tests of their own,
# and one that all ran to the end with a clean kernel log.
qs_report() {
	local work=$WORK/quickstart line n=0 problems=()
	while IFS= read -r line; do
		if [[ $line =~ ^QS\ (not\ )?ok\ [0-9]+\ -\ (.*)$ ]]; then
			if [[ -n ${BASH_REMATCH[1]} ]]; then
				ok "quickstart: ${BASH_REMATCH[2]}" 1
			else
				ok "quickstart: ${BASH_REMATCH[2]}" 0
			fi
			n=$((n + 1))
		elif [[ $line == 'QS #'* ]]; then
			echo "${line#QS }"
		fi
	done < <(tr -d '\r' <"$work/console.log" 2>/dev/null)
	grep -q "^QS-BEGIN $(cat "$work/nonce" 2>/dev/null)" "$work/console.log" 2>/dev/null ||
		problems+=("the image's init did not start")
	grep -q '^QS-END ' "$work/console.log" 2>/dev/null ||
		problems+=("the Quick start did not finish")
	if grep -qE "$DMESG_BAD_PATTERN" "$work/console.log" 2>/dev/null; then
		mapfile -t -O "${#problems[@]}" problems < <(grep -E "$DMESG_BAD_PATTERN" "$work/console.log" | head -n 5)
	fi
	if ((${#problems[@]})) || ((n == 0)); then
		ok "quickstart: ran to the end, kernel log clean" 1 "${problems[@]}" \
			"console log: $work/console.log"
	else
		ok "quickstart: ran to the end, kernel log clean" 0
	fi
}
