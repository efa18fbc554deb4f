// The Android shell of Bluezone: `:bluezone`, the one library an app adds (the driver's
// executor, Keystore, WorkManager, notifications, the plain-Kotlin shim in `shared/` and the
// generated bindings, the Rust core for four ABIs), and `:example`, a minimal app using it.
// Built on a machine with the Android SDK, NDK and cargo-ndk: see docs/INTEGRATION-ANDROID.md.
pluginManagement {
    repositories { google(); mavenCentral(); gradlePluginPortal() }
}
dependencyResolutionManagement {
    repositoriesMode.set(RepositoriesMode.FAIL_ON_PROJECT_REPOS)
    repositories { google(); mavenCentral() }
}
rootProject.name = "bluezone-android"
include(":bluezone", ":example")
