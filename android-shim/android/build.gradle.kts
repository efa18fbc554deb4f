// The thin Android library: the driver's executor (service, advertiser, scanner, GATT client,
// alarms, wake lock, receivers), Keystore, WorkManager, notification.
plugins {
    id("com.android.library")
    id("org.jetbrains.kotlin.android")
}

android {
    namespace = "org.bluezone.android"
    compileSdk = 35
    defaultConfig { minSdk = 26 }
    sourceSets["main"].jniLibs.srcDir(layout.buildDirectory.dir("rustJniLibs"))
}

kotlin { jvmToolchain(17) }

dependencies {
    api(project(":shared"))
    implementation("net.java.dev.jna:jna:5.13.0@aar")
    implementation("androidx.work:work-runtime-ktx:2.10.0")
    implementation("androidx.core:core-ktx:1.15.0")
    // ProcessLifecycleOwner: the app's foreground/background moves become App events.
    implementation("androidx.lifecycle:lifecycle-process:2.8.7")
    implementation("com.squareup.okhttp3:okhttp:4.12.0")
}

// Builds the Rust core for every Android ABI with cargo-ndk (https: cargo install cargo-ndk).
val cargoNdk by tasks.registering(Exec::class) {
    workingDir = rootDir.parentFile
    commandLine(
        "cargo", "ndk",
        "-t", "arm64-v8a", "-t", "armeabi-v7a", "-t", "x86_64",
        "-o", layout.buildDirectory.dir("rustJniLibs").get().asFile.absolutePath,
        "build", "--release", "-p", "bluezone-ffi",
    )
}
tasks.named("preBuild") { dependsOn(cargoNdk) }
