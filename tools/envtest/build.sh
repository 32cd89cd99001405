#!/usr/bin/env bash
# Build (or reuse) the kube-apiserver and etcd binaries that reconcilekit.testing.envtest runs.
#
# Layout, shared with reconcilekit/testing/_envtest.py (keep the two in step):
#   ${RECONCILEKIT_ENVTEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/reconcilekit/envtest}/
#     v<k8s-version>/bin/{kube-apiserver,etcd}   what the harness runs (also a valid KUBEBUILDER_ASSETS dir)
#     v<k8s-version>/stamp                        hash of go.mod/go.sum the binaries were built from
#     go/{mod,build}                              Go module and build caches, so rebuilds are incremental
#     .lock                                       serialises concurrent runs (flock)
#
# kube-apiserver is built from the Go module proxy with the pins in go.mod. etcd comes from Debian's etcd-server
# package when apt-get is available (installed if missing), otherwise it is built from go.etcd.io/etcd with the
# pins in etcd/go.mod; RECONCILEKIT_ENVTEST_ETCD=build forces the build.
#
# The first run takes many minutes (kube-apiserver is a large Go program); later runs only check the stamp.
# Prints the bin directory on the last line of stdout, so callers can do: KUBEBUILDER_ASSETS=$(build.sh | tail -1)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
k8s_version="$(awk '$1 == "require" && $2 == "k8s.io/kubernetes" { print $3 }' "$here/go.mod")"
if [[ -z "$k8s_version" ]]; then
    echo "build.sh: cannot find the k8s.io/kubernetes version in $here/go.mod" >&2
    exit 1
fi
cache_root="${RECONCILEKIT_ENVTEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/reconcilekit/envtest}"
dest="$cache_root/$k8s_version"
bin="$dest/bin"
stamp_want="$(cat "$here/go.mod" "$here/go.sum" "$here/etcd/go.mod" "$here/etcd/go.sum" | sha256sum | cut -d' ' -f1)"

log() { echo "envtest build: $*" >&2; }

ready() {
    [[ -x "$bin/kube-apiserver" && -x "$bin/etcd" && -f "$dest/stamp" ]] &&
        [[ "$(cat "$dest/stamp")" == "$stamp_want" ]]
}

# Fast path without the lock: a finished cache is never modified in place (files are renamed into it).
if ready; then
    log "reusing $bin (Kubernetes $k8s_version)"
    echo "$bin"
    exit 0
fi

mkdir -p "$cache_root"
exec 9>"$cache_root/.lock"
log "waiting for the lock $cache_root/.lock"
flock 9
if ready; then
    # Another run built it while this one waited for the lock.
    log "reusing $bin (built by a concurrent run)"
    echo "$bin"
    exit 0
fi

mkdir -p "$bin"
rm -f "$dest/stamp"

if ! command -v go > /dev/null; then
    log "Go is not installed (need Go >= 1.23 on PATH); see https://go.dev/doc/install"
    exit 1
fi
export GOMODCACHE="$cache_root/go/mod"
export GOCACHE="$cache_root/go/build"
# -trimpath: no local paths in the binaries; -modcacherw: the module cache can be deleted with plain rm -rf.
export GOFLAGS="-trimpath -buildvcs=false -modcacherw"
export GOTOOLCHAIN="${GOTOOLCHAIN:-local}"
export CGO_ENABLED=0

start=$SECONDS
if [[ -x "$bin/kube-apiserver" && -f "$dest/kube-apiserver.stamp" &&
    "$(cat "$dest/kube-apiserver.stamp")" == "$(cat "$here/go.mod" "$here/go.sum" | sha256sum | cut -d' ' -f1)" ]]; then
    log "kube-apiserver already built"
else
    log "building kube-apiserver $k8s_version with $(go version | cut -d' ' -f3) (first build: many minutes)"
    (cd "$here" && go build -ldflags='-s -w' -o "$bin/kube-apiserver.tmp" k8s.io/kubernetes/cmd/kube-apiserver)
    mv -f "$bin/kube-apiserver.tmp" "$bin/kube-apiserver"
    cat "$here/go.mod" "$here/go.sum" | sha256sum | cut -d' ' -f1 > "$dest/kube-apiserver.stamp"
    log "kube-apiserver built in $((SECONDS - start)) s"
fi

install_debian_etcd() {
    [[ "${RECONCILEKIT_ENVTEST_ETCD:-}" != "build" ]] || return 1
    if [[ ! -x /usr/bin/etcd ]]; then
        command -v apt-get > /dev/null || return 1
        local sudo=()
        [[ "$(id -u)" == 0 ]] || sudo=(sudo -n)
        log "installing Debian's etcd-server package"
        # The package also enables a systemd unit; on machines without systemd that is a no-op.
        "${sudo[@]}" apt-get update -q >&2 || return 1
        DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q etcd-server >&2 || return 1
    fi
    [[ -x /usr/bin/etcd ]] || return 1
    cp -f /usr/bin/etcd "$bin/etcd.tmp"
    mv -f "$bin/etcd.tmp" "$bin/etcd"
    log "etcd: $("$bin/etcd" --version | head -1) (Debian etcd-server)"
}

build_etcd() {
    local etcd_version
    etcd_version="$(awk '$1 == "require" && $2 == "go.etcd.io/etcd/server/v3" { print $3 }' "$here/etcd/go.mod")"
    log "building etcd $etcd_version from the Go module proxy"
    (cd "$here/etcd" && go build -ldflags='-s -w' -o "$bin/etcd.tmp" go.etcd.io/etcd/server/v3)
    mv -f "$bin/etcd.tmp" "$bin/etcd"
    log "etcd: $("$bin/etcd" --version | head -1) (built)"
}

install_debian_etcd || build_etcd

echo "$stamp_want" > "$dest/stamp"
log "done in $((SECONDS - start)) s: $bin"
echo "$bin"
