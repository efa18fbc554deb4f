"""android-shim/gradlew, the shell wrapper that replaces Gradle's binary wrapper jar: it
fetches the pinned distribution once, refuses one whose SHA-256 differs from the pin, and
runs the build with it. Exercised here with a stand-in distribution served from a file://
URL (no network, no real Gradle). Prints `N passed, N failed` last. Run by scripts/test-bindings."""

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "bindings", "python"))
from runner import run_tests  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
GRADLEW = os.path.join(ROOT, "android-shim", "gradlew")
PINNED = os.path.join(ROOT, "android-shim", "gradle", "wrapper", "gradle-wrapper.properties")


def fake_distribution(directory):
    """A zip laid out like gradle-8.11.1-bin.zip whose bin/gradle echoes its arguments."""
    path = os.path.join(directory, "gradle-8.11.1-bin.zip")
    with zipfile.ZipFile(path, "w") as z:
        info = zipfile.ZipInfo("gradle-8.11.1/bin/gradle")
        info.external_attr = 0o755 << 16
        z.writestr(info, '#!/bin/sh\necho "fake gradle: $*"\n')
    with open(path, "rb") as f:
        return path, hashlib.sha256(f.read()).hexdigest()


def project(directory, url, sha):
    """A copy of the wrapper with its properties pointing at `url`, pinned to `sha`."""
    shutil.copy(GRADLEW, os.path.join(directory, "gradlew"))
    os.makedirs(os.path.join(directory, "gradle", "wrapper"))
    with open(PINNED) as f:
        props = f.read()
    lines = []
    for line in props.splitlines():
        if line.startswith("distributionUrl="):
            line = "distributionUrl=" + url.replace(":", "\\:")
        elif line.startswith("distributionSha256Sum="):
            line = "distributionSha256Sum=" + sha
        lines.append(line)
    with open(os.path.join(directory, "gradle", "wrapper", "gradle-wrapper.properties"), "w") as f:
        f.write("\n".join(lines) + "\n")


def gradlew(directory, home, *args):
    env = dict(os.environ, GRADLE_USER_HOME=home)
    return subprocess.run([os.path.join(directory, "gradlew"), *args], cwd=directory, env=env,
                          capture_output=True, text=True, timeout=60)


def test_the_pinned_distribution_is_gradle_8_11_1_with_its_published_checksum():
    with open(PINNED) as f:
        props = f.read()
    assert "gradle-8.11.1-bin.zip" in props
    # Gradle's published SHA-256 of gradle-8.11.1-bin.zip.
    assert "distributionSha256Sum=f397b287023acdba1e9f6fc5ea72d22dd63669d59ed4a289a29b1a76eee151c6" in props


def test_the_distribution_is_fetched_once_checked_and_run():
    with tempfile.TemporaryDirectory() as d:
        zip_path, sha = fake_distribution(d)
        build, home = os.path.join(d, "build"), os.path.join(d, "home")
        os.makedirs(build)
        project(build, "file://" + zip_path, sha)
        out = gradlew(build, home, ":bluezone:assembleRelease")
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == f"fake gradle: -p {build} :bluezone:assembleRelease", out.stdout
        os.remove(zip_path)  # the second run needs no download
        again = gradlew(build, home, "tasks")
        assert again.returncode == 0 and "fake gradle: " in again.stdout, again.stderr


def test_a_distribution_whose_checksum_differs_is_refused_and_not_installed():
    with tempfile.TemporaryDirectory() as d:
        zip_path, sha = fake_distribution(d)
        build, home = os.path.join(d, "build"), os.path.join(d, "home")
        os.makedirs(build)
        wrong = ("0" if sha[0] != "0" else "1") + sha[1:]
        project(build, "file://" + zip_path, wrong)
        out = gradlew(build, home, "tasks")
        assert out.returncode != 0, out.stdout
        assert "refused" in out.stderr, out.stderr
        installed = [os.path.join(r, f) for r, _, fs in os.walk(home) for f in fs]
        assert installed == [], installed


if __name__ == "__main__":
    sys.exit(run_tests(globals()))
