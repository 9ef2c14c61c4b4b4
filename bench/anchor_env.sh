# Sourced by the bench scripts: how to run the PyTorch anchor at its best on this machine.
# Debian's python3-torch links the BLAS that update-alternatives selects; without OpenBLAS that
# is the reference BLAS (about 1 GFLOP/s), so the anchor needs libopenblas0-pthread. Debian's
# OpenBLAS 0.3.21 does not recognise recent Intel CPUs and falls back to SSE3 kernels unless
# told OPENBLAS_CORETYPE=SkylakeX; on a CPU without AVX-512 that setting would be wrong, and
# OpenBLAS's own choice (Haswell kernels on AVX2 machines) is kept.
anchor_deps() {
    if ! /usr/bin/python3 -c 'import torch, numpy' 2>/dev/null ||
        [ ! -e /usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3 ]; then
        if [ "$(id -u)" = 0 ]; then
            DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-torch python3-numpy \
                libopenblas0-pthread >/dev/null
        else
            sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-torch python3-numpy \
                libopenblas0-pthread >/dev/null
        fi
    fi
}
anchor_env() {
    if grep -qw avx512f /proc/cpuinfo; then
        echo "OPENBLAS_CORETYPE=SkylakeX OMP_WAIT_POLICY=PASSIVE"
    else
        echo "OMP_WAIT_POLICY=PASSIVE"
    fi
}
