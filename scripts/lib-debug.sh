# shellcheck shell=bash
# SPDX-License-Identifier: GPL-2.0
#
# The debug-kernel lane of vm-check.sh, sourced after lib.sh. Nothing here
# runs on its own.
#
# A small x86_64 kernel for QEMU, built in the sid chroot (lib-sid.sh) from
# Debian sid's linux-source of the newest stable line (the line of the
# matrix's "sid" entry) with the options of debug-kernel.config (KASAN,
# lockdep, kmemleak, DEBUG_VM, DEBUG_LIST, DEBUG_OBJECTS, ...), is cached
# and then tested as one more kernel of the matrix: the module is built
# against its tree in the same chroot (W=1, C=1) and the VM runs the same
# payload (vm/check.sh) as on the Debian kernels.
#
#   debug_kernel_enabled   "debug" is among the kernels asked for and
#                          SHMDEV_DEBUG_KERNEL is not 0
#   debug_kernel_begin     take the kernel from the cache or start building
#                          it in the background
#   debug_kernel_end       wait for that build and register the kernel with
#                          lib.sh (sets DEBUG_KVERS)
#   debug_kernel_prepare   both, one after the other
#
# Cache entry: $SHMDEV_CACHE/debug-kernel/<key>/, <key> being the name and
# version of the linux-source package and a hash of the fragment's options,
# the chroot compiler's version and the recipe below:
#   src/        the unpacked source tree (out-of-tree builds need it)
#   obj/        the O= object tree: .config, Module.symvers, generated
#               headers, the scripts/ and objtool binaries
#   bzImage     the kernel that QEMU boots
#   release     its kernel release (uname -r)
#   build.log   configuration and build output
#   complete    written last: the entry is usable
# An O= tree records absolute paths: sid_run mounts the cache at the same
# path inside the chroot, and the entry is built in place under an
# exclusive flock on <key>.lock; a run holds a shared lock on the entry it
# uses until it exits. After a build, entries of other keys that no run
# holds are removed.

SHMDEV_DEBUG_KERNEL=${SHMDEV_DEBUG_KERNEL:-1}
DEBUG_KERNEL_CONFIG=$SHMDEV_SCRIPTS/debug-kernel.config
DEBUG_KERNEL_CACHE=$SHMDEV_CACHE/debug-kernel
# KASAN and lockdep under TCG: the payload takes several times as long as on
# the Debian kernels, and the fault-injection lane runs only here (about
# 25 minutes in all on two cores; a hang is what this bounds).
DEBUG_VM_TIMEOUT=${DEBUG_VM_TIMEOUT:-2700}
DEBUG_KERNEL_TAG="KASAN, lockdep, kmemleak"
# Part of the cache key: bump it when the recipe below changes its result.
DEBUG_KERNEL_RECIPE=2
# The matrix entry whose kernel line the debug kernel follows.
DEBUG_KERNEL_LINE_OF=sid

# The debug kernel's release once debug_kernel_prepare has it; empty when
# the lane is off or the kernel could not be built.
DEBUG_KVERS=()
# linux-source-<major>.<minor> of that line, set by debug_kernel_source.
DEBUG_SOURCE_PACKAGE=

debug_kernel_enabled() {
	[[ $SHMDEV_DEBUG_KERNEL != 0 ]] && ((DEBUG_WANTED))
}

# debug_kernel_source: set DEBUG_SOURCE_PACKAGE from the kernel of the
# DEBUG_KERNEL_LINE_OF entry (7.2.13+deb14-amd64 gives linux-source-7.2)
# and install its newest version in the chroot.
debug_kernel_source() {
	local suite meta kver

	read -r suite meta _ < <(matrix_entry "$DEBUG_KERNEL_LINE_OF")
	kver=$(sid_kernel_of_meta "$suite" "$meta")
	[[ $kver =~ ^([0-9]+\.[0-9]+) ]] ||
		die "cannot tell the kernel line of $meta in $suite (got '$kver')"
	DEBUG_SOURCE_PACKAGE=linux-source-${BASH_REMATCH[1]}
	sid_ensure_newest "$DEBUG_SOURCE_PACKAGE"
}

debug_kernel_tarball() {
	printf '%s\n' "/usr/src/$DEBUG_SOURCE_PACKAGE.tar.xz"
}

# The fragment's option lines, without comments and blank lines.
debug_kernel_options() {
	grep -E '^(CONFIG_[A-Za-z0-9_]+=|# CONFIG_[A-Za-z0-9_]+ is not set$)' \
		"$DEBUG_KERNEL_CONFIG"
}

debug_kernel_key() {
	local srcver hash

	srcver=$DEBUG_SOURCE_PACKAGE-$(sid_run dpkg-query -W -f='${Version}' "$DEBUG_SOURCE_PACKAGE")
	hash=$({
		echo "recipe $DEBUG_KERNEL_RECIPE"
		sid_run gcc --version | head -n 1
		debug_kernel_options
	} | sha256sum | cut -c 1-12)
	# Kbuild copes badly with some characters in paths (':', '~' in make).
	printf '%s-%s\n' "${srcver//[^A-Za-z0-9.+-]/_}" "$hash"
}

# Print the fragment as scripts/config arguments, one a line.
debug_kernel_config_args() {
	awk '
		/^CONFIG_[A-Za-z0-9_]+=/ {
			name = val = substr($0, 8)
			sub(/=.*/, "", name)
			sub(/^[^=]*=/, "", val)
			if (val == "y")
				print "--enable\n" name
			else if (val == "m")
				print "--module\n" name
			else if (val ~ /^".*"$/)
				print "--set-str\n" name "\n" substr(val, 2, length(val) - 2)
			else
				print "--set-val\n" name "\n" val
			next
		}
		/^# CONFIG_[A-Za-z0-9_]+ is not set$/ {
			print "--disable\n" substr($2, 8)
			next
		}
		/^#/ || /^[ \t]*$/ { next }
		{
			print FILENAME ":" NR ": cannot parse: " $0 >"/dev/stderr"
			exit 1
		}' "$DEBUG_KERNEL_CONFIG"
}

# debug_kernel_verify CONFIG: every option line of the fragment must be in
# CONFIG as written ("is not set": not set, or absent). Prints each one that
# is not, with what CONFIG has instead; returns 1 if any.
debug_kernel_verify() {
	debug_kernel_options | awk '
		FNR == NR { want[++n] = $0; next }
		{ have[$0] = 1 }
		match($0, /^CONFIG_[A-Za-z0-9_]+=/) { cur[substr($0, 1, RLENGTH - 1)] = $0 }
		/^# CONFIG_[A-Za-z0-9_]+ is not set$/ { cur[$2] = $0 }
		END {
			for (i = 1; i <= n; i++) {
				w = want[i]
				if (w in have)
					continue
				if (w ~ /^# /) {
					split(w, f, " ")
					name = f[2]
					if (!(name in cur))
						continue
				} else {
					name = w
					sub(/=.*/, "", name)
				}
				printf "  wanted %s; .config has %s\n", w,
					name in cur ? cur[name] : "nothing (an unmet dependency)"
				bad++
			}
			exit bad > 0
		}' - "$1"
}

# debug_kernel_build DIR: unpack, configure, verify and build the kernel in
# DIR, log in DIR/build.log. Returns 1 (after saying why) on failure.
debug_kernel_build() {
	local dir=$1 src=$1/src obj=$1/obj buildlog=$1/build.log
	local args=() missing tarball

	rm -rf "$src" "$obj" "$dir/bzImage" "$dir/release" "$dir/complete"
	mkdir -p "$src" "$obj" || return 1
	: >"$buildlog"

	tarball=$(debug_kernel_tarball)
	log "unpacking $tarball of the sid chroot"
	if ! tar -xJf "$SID_ROOT$tarball" -C "$src" --strip-components=1 \
		>>"$buildlog" 2>&1; then
		log "cannot unpack $SID_ROOT$tarball"
		return 1
	fi

	log "configuring: tinyconfig + $DEBUG_KERNEL_CONFIG"
	mapfile -t args < <(debug_kernel_config_args)
	((${#args[@]})) || return 1
	sid_run make -C "$src" O="$obj" tinyconfig >>"$buildlog" 2>&1 || {
		log "make tinyconfig failed ($buildlog)"
		return 1
	}
	# Twice: an option whose dependency the first pass brought in sticks
	# only on the second.
	for _ in 1 2; do
		if ! "$src/scripts/config" --file "$obj/.config" "${args[@]}" ||
			! sid_run make -C "$src" O="$obj" olddefconfig >>"$buildlog" 2>&1; then
			log "scripts/config or make olddefconfig failed ($buildlog)"
			return 1
		fi
	done
	if ! missing=$(debug_kernel_verify "$obj/.config"); then
		log "the debug kernel's .config lacks options of $DEBUG_KERNEL_CONFIG:"
		printf '%s\n' "$missing" >&2
		return 1
	fi

	log "building bzImage and modules with $(nproc) jobs in the sid chroot (log: $buildlog)"
	if ! sid_run make -C "$src" O="$obj" -j"$(nproc)" bzImage modules \
		>>"$buildlog" 2>&1; then
		log "debug kernel build failed; the end of $buildlog:"
		tail -n 40 "$buildlog" >&2
		return 1
	fi
	[[ -s $obj/Module.symvers && -s $obj/arch/x86/boot/bzImage ]] || {
		log "the build left no Module.symvers or bzImage in $obj"
		return 1
	}
	if ! sid_run make -s -C "$src" O="$obj" kernelrelease >"$dir/release" \
		2>>"$buildlog" || [[ ! -s $dir/release ]]; then
		log "make kernelrelease failed ($buildlog)"
		return 1
	fi
	cp "$obj/arch/x86/boot/bzImage" "$dir/bzImage" || return 1
	cp "$DEBUG_KERNEL_CONFIG" "$dir/debug-kernel.config" || return 1
	: >"$dir/complete"
}

# debug_kernel_prune KEY: remove the cache entries of other keys that no run
# is using.
debug_kernel_prune() {
	local keep=$1 entry fd

	for entry in "$DEBUG_KERNEL_CACHE"/*/; do
		entry=${entry%/}
		[[ -d $entry && ${entry##*/} != "$keep" ]] || continue
		exec {fd}>>"$entry.lock" || continue
		if flock -n -x "$fd"; then
			log "removing the old debug kernel $entry"
			rm -rf "$entry" "$entry.lock"
		fi
		exec {fd}>&-
	done
}

# The debug kernel takes about 30 minutes of both cores to build on a slow
# machine, so debug_kernel_begin builds it in the background while the
# rest of the run goes on, at idle priority (SCHED_IDLE, idle I/O class):
# it takes only the CPU time the other lanes leave (their VMs ran about 15%
# slower beside it, from shared caches, not CPU time). debug_kernel_end
# waits for it.
DEBUG_KERNEL_LOCK_FD=
DEBUG_KERNEL_DIR=
DEBUG_KERNEL_BUILD_PID=

# debug_kernel_begin: find the debug kernel in the cache or start its build
# in the background. Returns 1 if it cannot even start.
debug_kernel_begin() {
	local key dir

	DEBUG_KVERS=()
	DEBUG_KERNEL_DIR=
	DEBUG_KERNEL_BUILD_PID=
	if ! debug_kernel_enabled; then
		log "debug-kernel lane skipped (SHMDEV_DEBUG_KERNEL=0)"
		return 0
	fi
	sid_chroot_prepare
	debug_kernel_source
	key=$(debug_kernel_key)
	dir=$DEBUG_KERNEL_CACHE/$key
	DEBUG_KERNEL_DIR=$dir
	mkdir -p "$DEBUG_KERNEL_CACHE"
	# Held until this run exits (shared once the kernel is there), so that
	# no other run removes or rebuilds the entry while this one builds
	# against it and boots it.
	exec {DEBUG_KERNEL_LOCK_FD}>>"$dir.lock"
	[[ -f $dir/complete ]] && return 0
	flock -x "$DEBUG_KERNEL_LOCK_FD"
	[[ -f $dir/complete ]] && return 0
	mkdir -p "$dir"
	log "building the debug kernel in $dir, in the background at idle priority"
	(
		chrt --idle -p 0 "$BASHPID" >/dev/null &&
			ionice -c 3 -p "$BASHPID" || exit 1
		SECONDS=0
		debug_kernel_build "$dir" || exit 1
		log "built the debug kernel $(<"$dir/release") in $((SECONDS / 60)) min $((SECONDS % 60)) s"
		debug_kernel_prune "${dir##*/}"
	) &
	DEBUG_KERNEL_BUILD_PID=$!
	trap debug_kernel_stop EXIT
}

# debug_kernel_stop: on exit, a build still running goes with the run
# (the build's processes, children first: make under chroot under unshare
# under the background shell).
debug_kernel_stop() {
	[[ -n $DEBUG_KERNEL_BUILD_PID ]] || return 0
	kill_tree "$DEBUG_KERNEL_BUILD_PID"
}

kill_tree() {
	local child

	kill -STOP "$1" 2>/dev/null || return 0
	for child in $(pgrep -P "$1"); do
		kill_tree "$child"
	done
	kill -TERM "$1" 2>/dev/null
	kill -CONT "$1" 2>/dev/null
	return 0
}

# debug_kernel_end: wait for the build debug_kernel_begin started, if any,
# and register the kernel with lib.sh: image, build tree, summary label
# and VM timeout. Sets DEBUG_KVERS; returns 1 if there is no kernel.
debug_kernel_end() {
	local dir=$DEBUG_KERNEL_DIR release rc=0

	DEBUG_KVERS=()
	debug_kernel_enabled || return 0
	[[ -n $dir ]] || return 1
	if [[ -n $DEBUG_KERNEL_BUILD_PID ]]; then
		log "waiting for the debug kernel's build (log: $dir/build.log)"
		wait "$DEBUG_KERNEL_BUILD_PID" || rc=$?
		DEBUG_KERNEL_BUILD_PID=
		trap - EXIT
		if ((rc)); then
			flock -u "$DEBUG_KERNEL_LOCK_FD"
			return 1
		fi
	fi
	flock -s "$DEBUG_KERNEL_LOCK_FD"
	[[ -f $dir/complete ]] || return 1
	release=$(<"$dir/release")
	log "debug kernel: $release ($dir)"
	register_kernel "$release" "$dir/bzImage" "$dir/obj" \
		"$release ($DEBUG_KERNEL_TAG)" "$DEBUG_VM_TIMEOUT"
	KERNEL_SUITE[$release]=debug
	KERNEL_ENTRY[$release]=debug
	# shellcheck disable=SC2034 # boot_vm (lib.sh) appends it
	# Routing the virtio disks' PCI interrupts through ACPI runs QEMU's
	# _PRT method, whose loop times out (30 s each time) under KASAN and
	# lockdep in TCG: the BIOS's PIRQ table routes them at once.
	KERNEL_APPEND[$release]=acpi=noirq
	# shellcheck disable=SC2034 # vm-check.sh tests the kernels of DEBUG_KVERS
	DEBUG_KVERS=("$release")
}

debug_kernel_prepare() {
	debug_kernel_begin && debug_kernel_end
}
