#!/usr/bin/env bash
# Installs what corral's Windows build needs on a Debian 12 (bookworm) x86_64 machine,
# using Debian packages and crates.io only, so CI can build the library for
# x86_64-pc-windows-gnu and run its tests under Wine. Idempotent; run as root (or with
# sudo available). Afterwards use `.ci/cargo-win` (next to this script) like cargo.
#
# What and why:
#   - rustup cannot fetch a prebuilt std for windows-gnu here, so std is rebuilt from
#     source with -Zbuild-std. That needs a compiler and library source of the very same
#     version: Debian's rustc-web/cargo-web/rust-web-src (1.96 in bookworm-security).
#   - rust-web-clippy lints the Windows build with the same compiler.
#   - MinGW-w64 (win32 threads) links; Wine 8.0 (64-bit) runs the test binaries.
#   - Wine 8.0 lacks bcryptprimitives.dll, whose ProcessPrng every Rust >= 1.78 program
#     imports; a small DLL forwarding it to advapi32's RtlGenRandom is built here and
#     copied into the Wine prefix by .ci/cargo-win.
#
# Environment: WINEPREFIX (default ~/.cache/corral-win/wine64).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
shim_dir=/usr/local/lib/corral-win
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"

[ "$(uname -m)" = x86_64 ] || { echo "windows-toolchain: needs an x86_64 host" >&2; exit 1; }
grep -q 'VERSION_CODENAME=bookworm' /etc/os-release 2>/dev/null ||
    echo "windows-toolchain: written for Debian 12 (bookworm); trying anyway" >&2

# 1. Packages. --no-install-recommends keeps Wine's fonts/gstreamer/wine32 and the extra
#    LLVM tools out (not needed headless). Wait for a dpkg lock instead of failing.
packages=(rustc-web cargo-web rust-web-src rust-web-clippy gcc-mingw-w64-x86-64-win32 wine wine64 ca-certificates)
need=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need+=("$p")
done
if [ "${#need[@]}" -gt 0 ]; then
    echo "windows-toolchain: apt-get install ${need[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get -o DPkg::Lock::Timeout=300 update -q || true
    $sudo apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends "${packages[@]}"
fi

# 2. The compiler must match the library source -Zbuild-std compiles.
version="$(/usr/bin/rustc -V | awk '{print $2}')"
if [ ! -f /usr/lib/rustlib/src/rust/library/std/Cargo.toml ] || [ ! -d "/usr/src/rustc-$version/library" ]; then
    echo "windows-toolchain: /usr/bin/rustc $version has no matching library source;" \
         "install rustc-web and rust-web-src of the same version" >&2
    exit 1
fi

# 3. The ProcessPrng shim for Wine < 9.
if [ ! -f "$shim_dir/bcryptprimitives.dll" ]; then
    work="$(mktemp -d)"
    trap 'rm -rf "$work"' EXIT
    cat >"$work/shim.c" <<'C'
/* bcryptprimitives!ProcessPrng for Wine 8, which has no bcryptprimitives.dll:
 * fill the buffer from advapi32!SystemFunction036 (RtlGenRandom), in chunks that fit
 * its ULONG length. */
#include <windows.h>
BOOLEAN WINAPI SystemFunction036(PVOID, ULONG);
__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE out, SIZE_T n)
{
    for (; n > 0;) {
        ULONG part = n > 0x40000000 ? 0x40000000 : (ULONG)n;
        if (!SystemFunction036(out, part)) return FALSE;
        out += part;
        n -= part;
    }
    return TRUE;
}
C
    x86_64-w64-mingw32-gcc-win32 -shared -O2 -s -o "$work/bcryptprimitives.dll" "$work/shim.c" -ladvapi32
    $sudo mkdir -p "$shim_dir"
    $sudo install -m 0644 "$work/bcryptprimitives.dll" "$shim_dir/bcryptprimitives.dll"
fi

# 4. Create the Wine prefix now (headless), so the first test run is not the slow one.
"$here/cargo-win" --prepare-prefix
echo "windows-toolchain: ready ($(/usr/bin/rustc -V), $(wine64 --version 2>/dev/null || wine --version 2>/dev/null))"
