#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# build-deb.sh - `make deb`: build the Debian packages shmdev-dkms,
# libshmdev1, libshmdev-dev, shmdev-utils and python3-shmdev from a copy
# of the tree in $SHMDEV_BUILD/deb/shmdev-VERSION (nothing is written into
# the tree), with dpkg-buildpackage -us -uc -b, then run lintian over them.
#
# The .deb files land in $SHMDEV_BUILD/deb/ (default build/deb/); the
# lintian report in $SHMDEV_BUILD/deb/lintian.txt. Fails if the versions
# of VERSION, dkms.conf, debian/changelog and the Python package differ,
# if the build fails or if lintian reports an error (warnings are shown,
# not fatal).
#
# Environment: SHMDEV_BUILD (default <repo>/build), LINTIAN=0 to skip lintian.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${SHMDEV_BUILD:-$ROOT/build}
OUT=$BUILD/deb

die() {
	echo "build-deb: error: $*" >&2
	exit 1
}

version=$(cat "$ROOT/VERSION")
[[ -n $version ]] || die "VERSION is empty"
changelog=$(dpkg-parsechangelog -l "$ROOT/debian/changelog" -S Version)
[[ $changelog == "$version" ]] ||
	die "debian/changelog is at $changelog, VERSION at $version: add a changelog entry"
dkms=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"$/\1/p' "$ROOT/dkms.conf")
[[ $dkms == "$version" ]] ||
	die "dkms.conf PACKAGE_VERSION is $dkms, VERSION is $version"

pyproject=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$ROOT/python/pyproject.toml")
[[ $pyproject == "$version" ]] ||
	die "python/pyproject.toml version is $pyproject, VERSION is $version"
pyinit=$(sed -n 's/^__version__ = "\(.*\)"$/\1/p' "$ROOT/python/shmdev/__init__.py")
[[ $pyinit == "$version" ]] ||
	die "python/shmdev/__init__.py __version__ is $pyinit, VERSION is $version"

command -v dpkg-buildpackage >/dev/null || die "dpkg-buildpackage missing (apt install dpkg-dev)"
(cd "$ROOT" && dpkg-checkbuilddeps) ||
	die "build dependencies missing (apt install debhelper dh-dkms)"

# A copy of the sources: the files git knows (tracked or not ignored), or
# everything but build output when this is not a git checkout.
src=$OUT/shmdev-$version
rm -rf "$OUT"
mkdir -p "$src"
if git -C "$ROOT" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	(cd "$ROOT" && git ls-files -z -c -o --exclude-standard |
		while IFS= read -r -d '' f; do
			[[ $f == build/* || ! -e $f ]] || printf '%s\0' "$f"
		done | tar --null -T - -cf -) | tar -xf - -C "$src"
else
	tar -C "$ROOT" --exclude=./build --exclude-vcs \
		--exclude='*.o' --exclude='*.ko' --exclude='*.cmd' -cf - . |
		tar -xf - -C "$src"
fi

echo "build-deb: dpkg-buildpackage in $src" >&2
# Debian's python3 for pybuild (python3-shmdev), not another one on PATH.
(cd "$src" && PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH dpkg-buildpackage -us -uc -b) >"$OUT/build.log" 2>&1 || {
	tail -n 60 "$OUT/build.log" >&2
	die "dpkg-buildpackage failed ($OUT/build.log)"
}
rm -rf "$src"

ls "$OUT"/*.deb
if [[ ${LINTIAN:-1} != 0 ]]; then
	command -v lintian >/dev/null || die "lintian missing (apt install lintian)"
	# lintian refuses to run as root without --allow-root.
	rc=0
	lintian --allow-root --fail-on error --info "$OUT"/*.changes \
		>"$OUT/lintian.txt" 2>&1 || rc=$?
	cat "$OUT/lintian.txt"
	((rc == 0)) || die "lintian reports errors ($OUT/lintian.txt)"
	echo "build-deb: lintian: $(grep -c '^E:' "$OUT/lintian.txt" || true) errors," \
		"$(grep -c '^W:' "$OUT/lintian.txt" || true) warnings" >&2
fi
