#!/usr/bin/env bash
# Install the Debian packages the test suite runs for real: prometheus (dashboard queries are
# checked against a real server), chrony (the chrony DaemonSet's container runs real chronyd;
# images/chrony/Dockerfile pins the same version), util-linux and iproute2 (that container's
# namespaces, user and capabilities: unshare, nsenter, setpriv, pivot_root, ip) and lua5.4 (the
# Argo CD health check). Idempotent: does nothing when all are present.
set -euo pipefail
need=()
command -v prometheus >/dev/null 2>&1 || need+=(prometheus)
command -v chronyd >/dev/null 2>&1 || [ -x /usr/sbin/chronyd ] || need+=(chrony)
for tool in unshare nsenter setpriv pivot_root; do
  command -v "$tool" >/dev/null 2>&1 || { need+=(util-linux); break; }
done
command -v ip >/dev/null 2>&1 || need+=(iproute2)
command -v lua5.4 >/dev/null 2>&1 || need+=(lua5.4)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  SUDO=sudo
else
  SUDO=
fi
echo "installing Debian packages: ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# --no-install-recommends keeps it small; policy-rc.d stops the packages' services from starting.
printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
$SUDO chmod +x /usr/sbin/policy-rc.d
trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
