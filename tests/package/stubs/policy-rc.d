#!/bin/sh
# SPDX-License-Identifier: MIT
# Bound over /usr/sbin/policy-rc.d inside the lifecycle test's mount
# namespace, where one exists (container images ship one that forbids
# every action): the maintainer scripts are checked under Debian's default
# policy, which allows them. Records what was asked.
echo "policy-rc.d $*" >>"${TITA_STUB_DIR:?}/calls"
exit 0
