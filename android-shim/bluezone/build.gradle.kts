// The one library an app adds: `implementation(project(":bluezone"))` in this build, or the
// published `org.bluezone:bluezone-android` AAR (`./gradlew :bluezone:publishToMavenLocal`),
// whose POM carries its dependencies. It holds the Android executor (service, receivers,
// Keystore, WorkManager, notifications), the plain-Kotlin shim (`../shared`, JVM-tested by
// scripts/test-bindings), the generated bindings (`../../bindings/kotlin`) and the Rust core
// built by cargo-ndk for all four Android ABIs.
plugins {
    id("com.android.library")
    id("org.jetbrains.kotlin.android")
    `maven-publish`
}

android {
    namespace = "org.bluezone.android"
    compileSdk = 35
    defaultConfig {
        minSdk = 26
        consumerProguardFiles("consumer-rules.pro")
    }
    sourceSets["main"].apply {
        kotlin.srcDirs("src/main/kotlin", "../shared/src/main/kotlin", "../../bindings/kotlin")
        jniLibs.srcDir(layout.buildDirectory.dir("rustJniLibs"))
    }
    publishing { singleVariant("release") { withSourcesJar() } }
}

kotlin { jvmToolchain(17) }

dependencies {
    // JNA for Android (the @aar has its own .so per ABI); 5.17 is the first built for 16 KB
    // pages.
    implementation("net.java.dev.jna:jna:5.17.0@aar")
    implementation("org.jetbrains.kotlinx:kotlinx-coroutines-android:1.9.0")
    implementation("androidx.work:work-runtime-ktx:2.10.0")
    implementation("androidx.core:core-ktx:1.15.0")
    // ProcessLifecycleOwner: the app's foreground/background moves become App events.
    implementation("androidx.lifecycle:lifecycle-process:2.8.7")
    implementation("com.squareup.okhttp3:okhttp:4.12.0")
}

// The Rust core for every Android ABI, with cargo-ndk (`cargo install cargo-ndk`; the Rust
// targets from `rustup target add aarch64-linux-android armv7-linux-androideabi
// x86_64-linux-android i686-linux-android`; ANDROID_NDK_HOME set). The linker flags for 16 KB
// pages are in the workspace's .cargo/config.toml.
val rustJniLibs = layout.buildDirectory.dir("rustJniLibs")
val cargoNdk by tasks.registering(Exec::class) {
    val workspace = rootDir.parentFile
    workingDir = workspace
    inputs.dir(workspace.resolve("crates"))
    inputs.files(workspace.resolve("Cargo.toml"), workspace.resolve("Cargo.lock"), workspace.resolve(".cargo/config.toml"))
    outputs.dir(rustJniLibs)
    commandLine(
        "cargo", "ndk",
        "-t", "arm64-v8a", "-t", "armeabi-v7a", "-t", "x86_64", "-t", "x86",
        "--platform", "26",
        "-o", rustJniLibs.get().asFile.absolutePath,
        "build", "--release", "--locked", "-p", "bluezone-ffi",
    )
}
tasks.named("preBuild") { dependsOn(cargoNdk) }

publishing {
    publications {
        register<MavenPublication>("release") {
            groupId = "org.bluezone"
            artifactId = "bluezone-android"
            version = "0.1.0"
            afterEvaluate { from(components["release"]) }
        }
    }
}
