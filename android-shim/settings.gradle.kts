// The Android shim: `shared` (plain Kotlin, JVM-tested here) and `android` (the thin
// Android library). Built on a machine with the Android SDK, NDK and cargo-ndk.
pluginManagement {
    repositories { google(); mavenCentral(); gradlePluginPortal() }
}
dependencyResolutionManagement {
    repositories { google(); mavenCentral() }
}
rootProject.name = "bluezone-android-shim"
include(":shared", ":android")
