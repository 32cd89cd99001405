#!/usr/bin/env bash
# Install the Debian packages the test suite's real servers need (only those missing; needs root + apt).
#   git              git daemon (git://) and git http-backend (smart HTTP)
#   openssh-server   sshd for Git over SSH; openssh-client for ssh-keygen (SSH signatures)
#   openssl          certificates for TLS test servers
#   gnupg            OpenPGP signatures (gpg)
#   docker-registry  a real OCI registry for image scanning tests
#   apache2-utils    htpasswd for the registry's basic auth
# etcd-server is installed by tools/envtest/build.sh, which owns the envtest binaries.
set -euo pipefail
packages=(git openssh-server openssh-client openssl gnupg docker-registry apache2-utils)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [[ ${#missing[@]} -eq 0 ]]; then
    exit 0
fi
if [[ $(id -u) -ne 0 ]] || ! command -v apt-get > /dev/null; then
    echo "system-deps: missing ${missing[*]}; install them (needs root and apt-get)" >&2
    exit 1
fi
echo "system-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -q > /dev/null
apt-get install -y -q --no-install-recommends "${missing[@]}" > /dev/null
