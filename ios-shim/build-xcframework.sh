#!/usr/bin/env bash
# Builds BluezoneFFI.xcframework (next to Package.swift) from the Rust core, on macOS with
# Xcode and rustup: static libraries for iOS devices (arm64) and the simulator (arm64 and
# x86_64, joined with lipo), each with the generated C headers (bluezone-ffi's and the core
# types') and the module map that uniffi's Swift bindings import (`module BluezoneFFI`, over
# both headers, in a file named module.modulemap as Xcode requires).
#
#   ./build-xcframework.sh            release build
#   PROFILE=debug ./build-xcframework.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
workspace="$(cd "$here/.." && pwd)"
profile="${PROFILE:-release}"
target_dir="${CARGO_TARGET_DIR:-$workspace/target}"
export IPHONEOS_DEPLOYMENT_TARGET="${IPHONEOS_DEPLOYMENT_TARGET:-15.0}"
device=aarch64-apple-ios
simulators=(aarch64-apple-ios-sim x86_64-apple-ios)

rustup target add "$device" "${simulators[@]}"
flags=(--locked -p bluezone-ffi)
[ "$profile" = release ] && flags+=(--release)
for target in "$device" "${simulators[@]}"; do
  (cd "$workspace" && cargo build "${flags[@]}" --target "$target")
done

build="$target_dir/ios"
rm -rf "$build"
mkdir -p "$build/headers" "$build/simulator"
cp "$workspace/bindings/swift/BluezoneFFI.h" "$workspace/bindings/swift/BluezoneCoreFFI.h" "$build/headers/"
cp "$workspace/bindings/swift/BluezoneFFI.modulemap" "$build/headers/module.modulemap"
lib() { echo "$target_dir/$1/$profile/libbluezone_ffi.a"; }
lipo -create "$(lib "${simulators[0]}")" "$(lib "${simulators[1]}")" -output "$build/simulator/libbluezone_ffi.a"

rm -rf "$here/BluezoneFFI.xcframework"
xcodebuild -create-xcframework \
  -library "$(lib "$device")" -headers "$build/headers" \
  -library "$build/simulator/libbluezone_ffi.a" -headers "$build/headers" \
  -output "$here/BluezoneFFI.xcframework"
echo "built $here/BluezoneFFI.xcframework ($profile)"
