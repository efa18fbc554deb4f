// Runs test functions, prints `ok`/`FAIL` per test and `N passed, N failed` last (CI counts
// that line), and exits non-zero on any failure. Shared by the Kotlin suites.
package org.bluezone.testrunner

import kotlin.reflect.KFunction0

fun runTests(tests: List<KFunction0<Unit>>) {
    var passed = 0
    var failed = 0
    for (test in tests) {
        try {
            test()
            passed++
            println("ok   ${test.name}")
        } catch (e: Throwable) {
            failed++
            println("FAIL ${test.name}: $e")
            e.printStackTrace()
        }
    }
    println("$passed passed, $failed failed")
    if (failed > 0) kotlin.system.exitProcess(1)
}
