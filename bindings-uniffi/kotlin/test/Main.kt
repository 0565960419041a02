// Runs the Kotlin test suites against DATABASE_URL: `java ... io.pgmq.tests.MainKt [NAME-SUBSTRING...]`
// (or `--delete-queues NAME...`).
// Prints one line per test and finally `RESULT passed=N failed=M` (read by run-tests.sh, which prints
// the summary line the CI log reader counts).
@file:JvmName("MainKt")

package io.pgmq.tests

import io.pgmq.*
import kotlinx.coroutines.*
import kotlin.system.exitProcess

fun main(args: Array<String>) {
    val dsn = System.getenv("DATABASE_URL") ?: run {
        System.err.println("DATABASE_URL is not set")
        exitProcess(2)
    }
    if (args.firstOrNull() == "--delete-queues") {
        // Used by run-tests.sh around each README block: deletes the queues it creates.
        runBlocking { Client.connect(dsn).use { c -> for (name in args.drop(1)) runCatching { c.deleteQueue(name) } } }
        exitProcess(0)
    }
    val all = clientTests + sendReceiveTests + deliveryTests + flowTests + resilienceTests + robustnessTests + tlsTests +
        operatorTests + parityTests + loggingTests + jsonTests + outboxTests + repliesTests + boundedTests + groupsTests +
        dependenciesTests
    val selected = if (args.isEmpty()) all else all.filter { t -> args.any { t.name.contains(it, ignoreCase = true) } }
    var passed = 0
    var failed = 0
    val suiteStart = System.nanoTime()
    runBlocking {
        val client = Client.connect(dsn)
        client.migrate()
        for (t in selected) {
            val ctx = TestContext(dsn, client)
            val start = System.nanoTime()
            val error: Throwable? = try {
                withContext(Dispatchers.Default) {
                    try {
                        withTimeout(t.timeoutMs) { coroutineScope { ctx.scope = this; t.body(ctx) } }
                    } catch (e: TimeoutCancellationException) {
                        throw AssertionFailed("timed out after ${t.timeoutMs} ms ($e)")
                    }
                }
                null
            } catch (e: Throwable) {
                e
            }
            withContext(NonCancellable) { ctx.cleanup() }
            val ms = elapsedMs(start)
            if (error == null) {
                passed++
                println("ok    ${t.name} ($ms ms)")
            } else {
                failed++
                println("FAIL  ${t.name} ($ms ms)")
                println("      $error")
                error.stackTrace.filter { it.className.startsWith("io.pgmq") }.take(4).forEach { println("        at $it") }
            }
            System.out.flush()
        }
        client.shutdown()
    }
    println("kotlin suite took ${elapsedMs(suiteStart)} ms")
    println("RESULT passed=$passed failed=$failed")
    System.out.flush()
    exitProcess(if (failed == 0) 0 else 1)
}
