// Plain Kotlin: the driver loop and executor interface, Android values in the driver's terms,
// and the generated bindings.
plugins { id("org.jetbrains.kotlin.jvm") }

kotlin { jvmToolchain(17) }

sourceSets {
    main { kotlin.srcDirs("src/main/kotlin", "../../bindings/kotlin") }
}

dependencies {
    // The generated bindings load the core through JNA; Android apps use the @aar variant.
    compileOnly("net.java.dev.jna:jna:5.13.0")
    implementation("org.jetbrains.kotlinx:kotlinx-coroutines-core:1.9.0")
}
