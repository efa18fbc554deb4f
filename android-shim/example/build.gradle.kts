// A minimal app showing the whole integration: one screen with the collection status, the
// "nearby now" count, the exposure state and the "I tested positive" flow (code, consent,
// upload). The authority's values come from Gradle properties (see docs/INTEGRATION-ANDROID.md):
//   ./gradlew :example:installDebug -Pbluezone.server=https://… \
//       -Pbluezone.signerKey=… -Pbluezone.uploadKey=…     (both from `bluezone server keys`)
plugins {
    id("com.android.application")
    id("org.jetbrains.kotlin.android")
}

fun setting(name: String): String = (findProperty(name) as String?) ?: ""

android {
    namespace = "org.bluezone.example"
    compileSdk = 35
    defaultConfig {
        applicationId = "org.bluezone.example"
        minSdk = 26
        targetSdk = 35
        versionCode = 1
        versionName = "0.1.0"
        buildConfigField("String", "SERVER", "\"${setting("bluezone.server").ifEmpty { "http://10.0.2.2:8080" }}\"")
        buildConfigField("String", "SIGNER_KEY", "\"${setting("bluezone.signerKey")}\"")
        buildConfigField("String", "UPLOAD_KEY", "\"${setting("bluezone.uploadKey")}\"")
    }
    buildFeatures { buildConfig = true }
    buildTypes {
        release {
            isMinifyEnabled = true // the library's consumer rules keep JNA and the bindings
            proguardFiles(getDefaultProguardFile("proguard-android-optimize.txt"))
        }
    }
}

kotlin { jvmToolchain(17) }

dependencies {
    implementation(project(":bluezone"))
    implementation("androidx.activity:activity-ktx:1.9.3")
    implementation("androidx.lifecycle:lifecycle-runtime-ktx:2.8.7")
}
