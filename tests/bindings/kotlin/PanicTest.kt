// A panic inside the core is an exception in Kotlin and the process lives. Compiled against
// bindings generated from the library built with the `testing` feature (the committed
// bindings do not know its test-only exports). Run by scripts/test-bindings.

import org.bluezone.core.*
import org.bluezone.core.types.DriverCommand
import org.bluezone.core.types.Platform
import org.bluezone.testrunner.runTests

fun panicTracer(): BluezoneTracer = BluezoneTracer.open(
    BluezoneConfig((-15).toByte(), 0.toByte(), listOf(), null), null, ByteArray(32) { it.toByte() },
)

fun testAPanicInRustIsAnExceptionAndTheProcessLives() {
    try {
        testingPanic()
        throw AssertionError("no exception")
    } catch (e: InternalException) {
        // expected
    }
    if (panicTracer().currentAdvertisement().payload.size != 31) throw AssertionError("unusable after a panic")
}

fun testDriverComesBackAfterAPanic() {
    panicTracer().use { t ->
        val t0 = System.currentTimeMillis()
        BluezoneDriver(t, Platform.ANDROID, null, 7uL, t0).use { d ->
            d.handle(t0, DriverEvent.Enable)
            try {
                d.testingPanic(t0 + 1_000)
                throw AssertionError("no error")
            } catch (e: BluezoneException.Internal) {
                if (e.code != 90u) throw AssertionError("code ${e.code}")
            }
            val out = d.handle(t0 + 2_000, DriverEvent.Screen(true))
            if (out.none { it is DriverCommand.StartScan }) throw AssertionError("$out")
            if (d.collection().driver.restarts != 1uL) throw AssertionError("restarts")
        }
    }
}

fun main() = runTests(listOf(::testAPanicInRustIsAnExceptionAndTheProcessLives, ::testDriverComesBackAfterAPanic))
