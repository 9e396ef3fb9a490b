#!/usr/bin/env bash
# Installs the Debian packages that the tests start for real: Prometheus.
# Does nothing when they are present; needs root (CI and these machines run as root).
set -euo pipefail

need=()
command -v prometheus >/dev/null 2>&1 || [[ -x /usr/bin/prometheus ]] || need+=(prometheus)

if ((${#need[@]} == 0)); then
    exit 0
fi
if [[ $(id -u) -ne 0 ]]; then
    echo "system-deps: please install: ${need[*]} (sudo apt-get install ${need[*]})" >&2
    exit 1
fi
echo "system-deps: installing ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
# The package starts a system service on :9090; the tests start their own.
systemctl disable --now prometheus >/dev/null 2>&1 || service prometheus stop >/dev/null 2>&1 || true
