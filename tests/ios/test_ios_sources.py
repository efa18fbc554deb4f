"""Checks on the iOS shell, which cannot be compiled here (no Swift toolchain): the package
compiles the committed bindings; build-xcframework.sh, run with stand-ins for rustup, cargo,
lipo and xcodebuild, builds three targets and packages the header with a module.modulemap;
every driver command the bindings define is carried out by DriverHost and every event and
binding call the shell makes exists in the bindings. Prints `N passed, N failed` last.
Run by scripts/test-bindings."""

import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "bindings", "python"))
from runner import run_tests  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
IOS = os.path.join(ROOT, "ios-shim")
SHIM = os.path.join(IOS, "Sources", "BluezoneShim")
BINDINGS = os.path.join(ROOT, "bindings", "swift")


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def shim_sources():
    return "\n".join(read(os.path.join(SHIM, name)) for name in sorted(os.listdir(SHIM)) if name.endswith(".swift"))


def swift_bindings():
    """bluezone-ffi's Swift bindings and the core types' (one Swift module)."""
    return read(os.path.join(BINDINGS, "Bluezone.swift")) + read(os.path.join(BINDINGS, "BluezoneCore.swift"))


def enum_cases(source, name):
    body = re.search(rf"^public enum {name}\b.*?^}}", source, re.S | re.M).group(0)
    return re.findall(r"^\s+case ([a-zA-Z]+)", body, re.M)


def test_the_package_compiles_the_committed_bindings_with_swift_5_10():
    package = read(os.path.join(IOS, "Package.swift"))
    assert package.startswith("// swift-tools-version:5.10"), package[:40]
    assert '.binaryTarget(name: "BluezoneFFI", path: "BluezoneFFI.xcframework")' in package
    sources = os.path.join(IOS, "Sources", "Bluezone")
    generated = sorted(name for name in os.listdir(BINDINGS) if name.endswith(".swift"))
    assert sorted(os.listdir(sources)) == generated == ["Bluezone.swift", "BluezoneCore.swift"], generated
    for name in generated:
        link = os.path.join(sources, name)
        assert os.path.islink(link), "a link, so the package compiles what scripts/bindings generated"
        assert os.path.realpath(link) == os.path.join(BINDINGS, name)
        assert "import BluezoneFFI" in read(link)


def test_build_xcframework_builds_three_targets_and_packages_a_module_map():
    with tempfile.TemporaryDirectory() as d:
        log = os.path.join(d, "log")
        stubs = os.path.join(d, "bin")
        os.mkdir(stubs)
        # Stand-ins that record their arguments; cargo and lipo make the files asked for.
        scripts = {
            "rustup": 'echo "rustup $*" >>"$LOG"',
            "cargo": 'echo "cargo $*" >>"$LOG"\n'
                     'for a in "$@"; do [ "$prev" = --target ] && t=$a; prev=$a; done\n'
                     'mkdir -p "$TARGET_DIR/$t/release" && echo lib >"$TARGET_DIR/$t/release/libbluezone_ffi.a"',
            "lipo": 'echo "lipo $*" >>"$LOG"\n'
                    'for a in "$@"; do [ "$prev" = -output ] && o=$a; prev=$a; done\necho fat >"$o"',
            "xcodebuild": 'echo "xcodebuild $*" >>"$LOG"\n'
                          'for a in "$@"; do [ "$prev" = -headers ] && rm -rf "$HEADERS_SEEN" && cp -r "$a" "$HEADERS_SEEN"; prev=$a; done',
        }
        for name, body in scripts.items():
            path = os.path.join(stubs, name)
            with open(path, "w") as f:
                f.write("#!/bin/sh\n" + body + "\n")
            os.chmod(path, 0o755)
        seen = os.path.join(d, "headers")
        env = dict(os.environ, PATH=stubs + os.pathsep + os.environ["PATH"], LOG=log,
                   CARGO_TARGET_DIR=os.path.join(d, "target"), TARGET_DIR=os.path.join(d, "target"),
                   HEADERS_SEEN=seen)
        out = subprocess.run([os.path.join(IOS, "build-xcframework.sh")], env=env,
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        calls = read(log).splitlines()
        cargo = [c for c in calls if c.startswith("cargo ")]
        targets = sorted(re.search(r"--target (\S+)", c).group(1) for c in cargo)
        assert targets == ["aarch64-apple-ios", "aarch64-apple-ios-sim", "x86_64-apple-ios"], cargo
        assert all("--release" in c and "-p bluezone-ffi" in c and "--locked" in c for c in cargo), cargo
        xcode = [c for c in calls if c.startswith("xcodebuild ")]
        assert len(xcode) == 1 and "-create-xcframework" in xcode[0] and xcode[0].count("-library") == 2, xcode
        assert sorted(os.listdir(seen)) == ["BluezoneCoreFFI.h", "BluezoneFFI.h", "module.modulemap"], os.listdir(seen)
        modulemap = read(os.path.join(seen, "module.modulemap"))
        assert modulemap == read(os.path.join(BINDINGS, "BluezoneFFI.modulemap"))
        assert "module BluezoneFFI" in modulemap
        assert 'header "BluezoneFFI.h"' in modulemap and 'header "BluezoneCoreFFI.h"' in modulemap, modulemap


def test_driver_host_carries_out_every_command_and_sends_only_known_events():
    bindings = swift_bindings()
    host = read(os.path.join(SHIM, "DriverHost.swift"))
    execute = re.search(r"private func execute\(.*?\n    }\n", host, re.S).group(0)
    commands = enum_cases(bindings, "DriverCommand")
    handled = re.findall(r"case (?:let )?\.([a-zA-Z]+)", execute)
    assert sorted(handled) == sorted(commands), (sorted(commands), sorted(handled))
    events = set(enum_cases(bindings, "DriverEvent"))
    sent = set(re.findall(r"\bsend\(\.([a-zA-Z]+)", shim_sources()))
    sent |= set(re.findall(r"\(\w+Notification, \.([a-zA-Z]+)\(", host))
    assert sent and sent <= events, sorted(sent - events)
    failures = set(enum_cases(bindings, "ReadFailure"))
    used = set(re.findall(r"failure: \.([a-zA-Z]+)", shim_sources()))
    assert used and used <= failures, sorted(used - failures)


def test_every_binding_call_the_shell_makes_exists():
    # Declarations without their doc comments (uniffi puts them between the parameters).
    bindings = re.sub(r"/\*\*.*?\*/", "", swift_bindings(), flags=re.S)
    shim = shim_sources()
    calls = {
        r"openTracer\(config:.*storagePath:.*masterKey:": r"public func openTracer\(config: BluezoneConfig, storagePath: String, masterKey: Data\)",
        r"\.downloadAll\(http: http, cancellation: cancellation\)": r"func downloadAll\(http: HttpClient, cancellation: DownloadCancellation\)",
        r"DownloadCancellation\(\)": r"public convenience init\(\) \{",
        r"\.runDueChaff\(http: http, cancellation: cancellation\)": r"func runDueChaff\(http: HttpClient, cancellation: DownloadCancellation\) async throws  -> ChaffReport",
        r"\.nextChaffAt\(\)": r"func nextChaffAt\(\) throws  -> Int64\?",
        r"report\.nextAt": r"public var nextAt: Int64\?",
        r"\.verifyCode\(http:": r"func verifyCode\(http: HttpClient, code: String\)",
        r"\.uploadKeys\(http:": r"func uploadKeys\(http: HttpClient, verified: VerifiedCode, consentAt: Int64\)",
        r"BluezoneDriver\(tracer: tracer, platform: \.ios, settings: settings,": r"public convenience init\(tracer: BluezoneTracer, platform: Platform, settings: DriverSettings\?, seed: UInt64, nowMs: Int64\)",
        r"driver\.handle\(nowMs:": r"func handle\(nowMs: Int64, event: DriverEvent\)",
        r"\.nearby\(\)": r"func nearby\(\)",
        r"\.exposureStatus\(\)": r"func exposureStatus\(\)",
        r"\.deleteAllData\(\)": r"func deleteAllData\(\)",
        r"BluezoneError\.Network\(code: 30, reason:": r"case Network\(\s*code: UInt32,\s*reason: String",
        r"HttpResponse\(status: status, body:": r"public init\(\s*status: UInt16,\s*body: Data\)",
    }
    for used, declared in calls.items():
        assert re.search(used, shim, re.S), f"the shim no longer makes {used}: update this list"
        assert re.search(declared, bindings), f"the bindings have no {declared}"
    for case in ("keyNoLongerOpensStore", "unreadable"):
        assert f"case {case}" in bindings
    for case in ("done", "cancelled", "retrySoon", "waitForNextRun"):
        assert re.search(rf"(case|,) \.{case}\b", shim), case


def test_the_example_app_declares_its_background_modes_and_tasks():
    project = read(os.path.join(IOS, "Example", "project.yml"))
    for needed in ("bluetooth-central", "bluetooth-peripheral", "processing", "NSBluetoothAlwaysUsageDescription",
                   "org.bluezone.download.refresh", "org.bluezone.download.processing", "org.bluezone.chaff"):
        assert needed in project, needed
    downloads = read(os.path.join(SHIM, "Downloads.swift"))
    assert 'refreshIdentifier = "org.bluezone.download.refresh"' in downloads
    assert 'processingIdentifier = "org.bluezone.download.processing"' in downloads
    assert 'identifier = "org.bluezone.chaff"' in read(os.path.join(SHIM, "Chaff.swift"))


if __name__ == "__main__":
    sys.exit(run_tests(globals()))
