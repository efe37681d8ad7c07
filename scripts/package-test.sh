#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Build the Debian package from the tree as committed (HEAD: what CI checks
# out), and again from a copy whose changelog has a newer version; check
# the deployment files' paths against the package's file list
# (tests/package/check-deploy-paths.sh), then install, configure, upgrade,
# remove and purge it (tests/package/lifecycle.sh, which says how the
# maintainer scripts' systemd calls are checked without systemd).
# Root only (dpkg -i). The package's own test run is skipped (nocheck): the
# same tests run in scripts/test.sh.
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
if [ "$(id -u)" -ne 0 ]; then
	echo "package-test.sh: not root: cannot install a package, skipped" >&2
	exit 77
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

build() {
	(cd "$1" && DEB_BUILD_OPTIONS="nocheck parallel=2" dpkg-buildpackage -us -uc -b \
		>"$1.build.log" 2>&1) || {
		tail -n 40 "$1.build.log"
		echo "package-test.sh: dpkg-buildpackage failed in $1" >&2
		exit 1
	}
}

mkdir -p "$work/old/tita" "$work/new/tita"
git -C "$src" archive HEAD | tar -C "$work/old/tita" -xf -
build "$work/old/tita"
old_deb=$(ls "$work"/old/tita_*.deb)

# The same tree one version later, as an upgrade would bring it.
git -C "$src" archive HEAD | tar -C "$work/new/tita" -xf -
old_version=$(dpkg-parsechangelog -l "$work/new/tita/debian/changelog" -S Version)
new_version=$old_version.1
{
	printf 'tita (%s) unstable; urgency=medium\n\n' "$new_version"
	printf '  * Rebuild: package-test.sh upgrades %s to this.\n\n' "$old_version"
	printf ' -- %s  %s\n\n' "$(dpkg-parsechangelog -l "$work/new/tita/debian/changelog" -S Maintainer)" \
		"$(date -R)"
	cat "$work/new/tita/debian/changelog"
} >"$work/changelog"
mv "$work/changelog" "$work/new/tita/debian/changelog"
build "$work/new/tita"
new_deb=$(ls "$work"/new/tita_*.deb)

fail=0
bash "$src/tests/package/check-deploy-paths.sh" "$old_deb" "$src" || fail=1
bash "$src/tests/package/lifecycle.sh" "$old_deb" "$new_deb" || fail=1
[ "$fail" -eq 0 ] && echo "package-test.sh: $(basename "$old_deb") and $(basename "$new_deb"): built, paths checked, lifecycle clean"
exit "$fail"
