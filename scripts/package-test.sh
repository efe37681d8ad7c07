#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Build the Debian package from the tree as committed (HEAD: what CI checks
# out), install it, check what it installed, and remove it again.
# Root only (dpkg -i). The package's own test run is skipped (nocheck): the
# same tests run in scripts/test.sh.
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
if [ "$(id -u)" -ne 0 ]; then
	echo "package-test.sh: not root: cannot install a package, skipped" >&2
	exit 77
fi

work=$(mktemp -d)
cleanup() {
	dpkg -r tita >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT

mkdir "$work/tita"
git -C "$src" archive HEAD | tar -C "$work/tita" -xf -
(cd "$work/tita" && DEB_BUILD_OPTIONS=nocheck dpkg-buildpackage -us -uc -b >"$work/build.log" 2>&1) || {
	tail -n 40 "$work/build.log"
	echo "package-test.sh: dpkg-buildpackage failed" >&2
	exit 1
}
deb=$(ls "$work"/tita_*.deb)
dpkg -i "$deb" >"$work/install.log" 2>&1 || {
	cat "$work/install.log"
	echo "package-test.sh: dpkg -i failed" >&2
	exit 1
}
fail=0
for f in /usr/sbin/titad /usr/bin/titactl /lib/systemd/system/titad.service \
	/etc/tita/titad.conf /usr/share/man/man8/titad.8.gz /usr/share/man/man5/titad.conf.5.gz \
	/usr/share/bash-completion/completions/titactl; do
	if [ ! -e "$f" ]; then
		echo "package-test.sh: the package did not install $f" >&2
		fail=1
	fi
done
getent group tita >/dev/null || { echo "package-test.sh: no tita group" >&2; fail=1; }
/usr/sbin/titad --version >/dev/null || fail=1
systemd-analyze verify /lib/systemd/system/titad.service || fail=1
dpkg -r tita >/dev/null
[ ! -e /usr/sbin/titad ] || { echo "package-test.sh: titad left after removal" >&2; fail=1; }
[ "$fail" -eq 0 ] && echo "package-test.sh: $(basename "$deb") built, installed and removed cleanly"
exit "$fail"
