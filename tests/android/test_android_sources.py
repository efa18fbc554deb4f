"""Checks on the Android sources that cannot be compiled here (no Android SDK): every name
they import from the bindings, the shim and the library exists; every string resource they
use exists in English and Vietnamese; the build ships the core for four ABIs, linked for
16 KB pages, with JNA 5.17+ and consumer R8 rules; the manifest declares what the code uses.
Prints `N passed, N failed` last. Run by scripts/test-bindings."""

import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "bindings", "python"))
from runner import run_tests  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SHIM = os.path.join(ROOT, "android-shim")
LIBRARY = os.path.join(SHIM, "bluezone")
EXAMPLE = os.path.join(SHIM, "example")
BINDINGS = os.path.join(ROOT, "bindings", "kotlin", "org", "bluezone", "core")
DECLARATION = re.compile(
    r"^\s*(?:(?:public|internal|private|data|sealed|enum|abstract|open|inline|value|annotation|fun)\s+)*"
    r"(?:class|interface|object|fun|typealias|val|var)\s+(?:`?)([A-Za-z_][A-Za-z0-9_]*)", re.M)


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def kotlin_files(*roots):
    for root in roots:
        for directory, _, files in os.walk(root):
            for name in files:
                if name.endswith(".kt"):
                    yield os.path.join(directory, name)


def declared(*roots):
    names = set()
    for path in kotlin_files(*roots):
        names.update(DECLARATION.findall(read(path)))
    return names


def declared_in(path):
    return set(DECLARATION.findall(read(path)))


def imports(package, *roots):
    found = []
    for path in kotlin_files(*roots):
        for name in re.findall(rf"^import {re.escape(package)}\.([A-Za-z_][A-Za-z0-9_]*)\s*$", read(path), re.M):
            found.append((os.path.relpath(path, ROOT), name))
    return found


def test_every_imported_name_exists():
    android_code = (os.path.join(LIBRARY, "src"), os.path.join(EXAMPLE, "src"))
    sources = {
        # bluezone-ffi's bindings, and the core types it hands over as they are.
        "org.bluezone.core": declared_in(os.path.join(BINDINGS, "bluezone.kt")),
        "org.bluezone.core.types": declared_in(os.path.join(BINDINGS, "types", "bluezone_core.kt")),
        "org.bluezone.shim": declared(os.path.join(SHIM, "shared", "src", "main")),
        "org.bluezone.android": declared(os.path.join(LIBRARY, "src")),
    }
    missing = [(path, f"{package}.{name}") for package, names in sources.items()
               for path, name in imports(package, *android_code) if name not in names]
    assert not missing, missing
    seen = [len(imports(package, *android_code)) for package in ("org.bluezone.core", "org.bluezone.core.types")]
    assert min(seen) > 5 and sum(seen) > 20, f"the check sees the imports: {seen}"


def test_every_string_resource_exists_in_english_and_vietnamese():
    for module, package in ((LIBRARY, "R"), (EXAMPLE, "R")):
        used = set()
        for path in kotlin_files(os.path.join(module, "src")):
            used.update(re.findall(r"\bR\.string\.([a-z0-9_]+)", read(path)))
        for values in ("values", "values-vi"):
            path = os.path.join(module, "src", "main", "res", values, "strings.xml")
            defined = set(re.findall(r'<string name="([a-z0-9_]+)"', read(path)))
            library = set(re.findall(r'<string name="([a-z0-9_]+)"',
                                     read(os.path.join(LIBRARY, "src", "main", "res", values, "strings.xml"))))
            missing = used - defined - library
            assert not missing, (os.path.relpath(path, ROOT), sorted(missing))
            assert used, package


def test_the_core_is_built_for_four_abis_with_16_kb_pages_and_jna_5_17():
    build = read(os.path.join(LIBRARY, "build.gradle.kts"))
    for abi in ("arm64-v8a", "armeabi-v7a", "x86_64", "x86"):
        assert f'"-t", "{abi}"' in build, abi
    jna = re.search(r'net\.java\.dev\.jna:jna:(\d+)\.(\d+)\.(\d+)@aar', build)
    assert jna and (int(jna.group(1)), int(jna.group(2))) >= (5, 17), jna
    assert 'consumerProguardFiles("consumer-rules.pro")' in build
    assert "../shared/src/main/kotlin" in build and "../../bindings/kotlin" in build, "one library"
    rules = read(os.path.join(LIBRARY, "consumer-rules.pro"))
    assert "-keep class com.sun.jna.* { *; }" in rules and "-keep class org.bluezone.core.** { *; }" in rules
    cargo = read(os.path.join(ROOT, ".cargo", "config.toml"))
    for target in ("aarch64-linux-android", "armv7-linux-androideabi", "x86_64-linux-android", "i686-linux-android"):
        section = cargo.split(f"[target.{target}]")[1].split("[target.")[0]
        assert "max-page-size=16384" in section, target
    assert "android.useAndroidX=true" in read(os.path.join(SHIM, "gradle.properties"))


def test_the_manifest_declares_what_the_code_uses():
    manifest = read(os.path.join(LIBRARY, "src", "main", "AndroidManifest.xml"))
    for permission in ("BLUETOOTH_SCAN", "BLUETOOTH_ADVERTISE", "BLUETOOTH_CONNECT", "POST_NOTIFICATIONS",
                       "SCHEDULE_EXACT_ALARM", "WAKE_LOCK", "RECEIVE_BOOT_COMPLETED", "FOREGROUND_SERVICE",
                       "FOREGROUND_SERVICE_CONNECTED_DEVICE", "INTERNET", "ACCESS_NETWORK_STATE"):
        assert f'android.permission.{permission}"' in manifest, permission
    service = re.search(r"<service[^>]*ExposureService[^>]*>", manifest, re.S).group(0)
    assert 'android:exported="false"' in service and "connectedDevice" in service
    for action in ("BOOT_COMPLETED", "MY_PACKAGE_REPLACED"):
        assert f"android.intent.action.{action}" in manifest, action
    code = "".join(read(p) for p in kotlin_files(os.path.join(LIBRARY, "src")))
    # The store and the wrapped key live where Auto Backup and device transfer never look.
    assert code.count("noBackupFilesDir") >= 2 and "getSharedPreferences" not in code


if __name__ == "__main__":
    sys.exit(run_tests(globals()))
