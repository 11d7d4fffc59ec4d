#!/bin/sh
# Installs what seqlm needs to build, test and benchmark on Debian 12 (run as root).
set -e
export DEBIAN_FRONTEND=noninteractive
SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends \
    build-essential cmake pkg-config zlib1g-dev libcmocka-dev python3 time \
    libopenblas-openmp-dev libcjson-dev gnuplot-nox \
    >/dev/null
echo "deps: installed"
