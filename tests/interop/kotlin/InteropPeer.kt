// Kotlin side of tests/interop/test_kotlin_interop.py: the pgmq Kotlin binding (target/uniffi/pgmq.jar)
// in a child process, reporting each step as one JSON line on stdout (read by the test):
//
//   worker QUEUE [--hold] [--nack ERROR]
//     {"event":"ready"}                              connected; the receiver is waiting
//     {"event":"received","id","bodyHex","attributes","deliveryAttempt","lastError","json"}
//                                                    (json: msg.json(), the JSON text, when the message
//                                                    carries a content-type; else null)
//     {"event":"acked","id"}                         the ack returned (or "nacked", with --nack ERROR)
//     {"event":"done"}                               the client is shut down
//   With --hold the message is acked only once a line "ack" arrives on stdin, and the client is shut
//   down only once a line "close" arrives.
//
//   sender QUEUE [BODY_HEX | --json JSON_HEX]
//     {"event":"sent","id"}                          the send returned (the message is durable, tracked)
//     {"event":"completed","id","outcome"}           sent.completed() returned ("completed", ...)
//   It sends BODY_HEX (default: the UTF-8 text "hello from kotlin") with the attributes of ATTRIBUTES; with
//   --json, the JSON text whose UTF-8 bytes JSON_HEX spells, through queue.sendJson (labelled
//   content-type: application/json, no other attribute).
//
//   reply QUEUE COUNT                                (the request/reply tests; the same behaviour and
//                                                    output as node_replier.mjs)
//     {"event":"ready"}                              connected; the receiver is waiting
//     {"event":"replied","id"}                       a request {"n": <int>} acked (msg.ackJson) with the
//                                                    JSON result {"n": n, "doubled": 2 * n, "lang": "kotlin"}
//     {"event":"done"}                               COUNT requests answered, the client shut down
//
// Any failure goes to stderr and exits non-zero. Compiled once per test session by the test:
//   kotlinc -classpath target/uniffi/pgmq.jar:jna.jar:kotlinx-coroutines-core-jvm.jar -d peer.jar InteropPeer.kt
//   DATABASE_URL=... java -Djna.library.path=target/debug -cp peer.jar:...:kotlin-stdlib.jar InteropPeerKt worker QUEUE

import io.pgmq.AttributeValue
import io.pgmq.CONTENT_TYPE_ATTRIBUTE
import io.pgmq.Client
import io.pgmq.NackOptions
import io.pgmq.SendOptions
import io.pgmq.ackJson
import io.pgmq.connect
import io.pgmq.json
import io.pgmq.next
import io.pgmq.sendJson
import kotlinx.coroutines.runBlocking
import kotlin.system.exitProcess

/** The attributes the sender attaches: one of each type, text beyond ASCII, integers beyond 2^53. */
val ATTRIBUTES: Map<String, AttributeValue> = mapOf(
    "lang" to AttributeValue.Text("kotlin ✓ ünïcödé 日本 \"quoted\" \\ back\nslash"),
    "empty" to AttributeValue.Text(""),
    "int" to AttributeValue.Int(42),
    "big" to AttributeValue.Int(Long.MAX_VALUE),
    "negative" to AttributeValue.Int(-(1L shl 60)),
    "float" to AttributeValue.Float(-2.5),
    "true" to AttributeValue.Bool(true),
    "false" to AttributeValue.Bool(false),
    "none" to AttributeValue.Null,
)

/** A JSON string literal; everything outside printable ASCII is escaped (stdout's charset may be ASCII). */
fun jsonString(s: String): String = buildString {
    append('"')
    for (c in s) {
        when {
            c == '"' -> append("\\\"")
            c == '\\' -> append("\\\\")
            c.code < 0x20 || c.code > 0x7e -> append("\\u%04x".format(c.code))
            else -> append(c)
        }
    }
    append('"')
}

fun json(value: Any?): String = when (value) {
    null -> "null"
    is String -> jsonString(value)
    is Boolean, is Int, is Long, is UInt -> value.toString()
    is Double -> {
        require(value.isFinite()) { "not a JSON number: $value" }
        value.toString() // e.g. -2.5, 1.0E300: valid JSON
    }
    is AttributeValue -> when (value) {
        is AttributeValue.Null -> "null"
        is AttributeValue.Bool -> json(value.value)
        is AttributeValue.Int -> json(value.value)
        is AttributeValue.Float -> json(value.value)
        is AttributeValue.Text -> json(value.value)
    }
    is Map<*, *> -> value.entries.joinToString(",", "{", "}") { (k, v) -> jsonString(k.toString()) + ":" + json(v) }
    else -> error("cannot encode ${value::class}")
}

fun emit(vararg fields: Pair<String, Any?>) {
    println(json(mapOf(*fields)))
    System.out.flush()
}

fun hex(bytes: ByteArray): String = bytes.joinToString("") { "%02x".format(it) }

fun unhex(s: String): ByteArray = ByteArray(s.length / 2) { s.substring(2 * it, 2 * it + 2).toInt(16).toByte() }

/** With --hold: waits for the line `expected` on stdin. */
fun command(expected: String) {
    val line = readLine()
    check(line?.trim() == expected) { "expected \"$expected\" on stdin, got ${line ?: "EOF"}" }
}

suspend fun worker(client: Client, queueName: String, hold: Boolean, nackError: String?) {
    val receiver = client.queue(queueName).receiver()
    emit("event" to "ready")
    val msg = receiver.next() ?: error("the receiver ended before a message arrived")
    emit(
        "event" to "received",
        "id" to msg.id,
        "bodyHex" to hex(msg.body),
        "attributes" to msg.attributes,
        "deliveryAttempt" to msg.deliveryAttempt,
        "lastError" to msg.lastError,
        "json" to if (CONTENT_TYPE_ATTRIBUTE in msg.attributes) msg.json() else null,
    )
    if (hold) command("ack")
    if (nackError != null) {
        msg.lease.nack(NackOptions(error = nackError))
        emit("event" to "nacked", "id" to msg.id)
    } else {
        msg.lease.ack()
        emit("event" to "acked", "id" to msg.id)
    }
    receiver.stop()
    if (hold) command("close")
}

/** The integer `n` of a request's JSON body `{"n": <int>}`. */
val REQUEST_N = Regex(""""n"\s*:\s*(-?\d+)\s*[,}]""")

suspend fun replier(client: Client, queueName: String, count: Int) {
    val receiver = client.queue(queueName).receiver()
    emit("event" to "ready")
    repeat(count) {
        val msg = receiver.next() ?: error("the receiver ended before every request arrived")
        val body = msg.json()
        val n = REQUEST_N.find(body)?.groupValues?.get(1)?.toLong() ?: error("request ${msg.id}: expected {\"n\": <int>}, got $body")
        msg.ackJson(json(mapOf("n" to n, "doubled" to 2 * n, "lang" to "kotlin")))
        emit("event" to "replied", "id" to msg.id)
    }
    receiver.stop()
}

suspend fun sender(client: Client, queueName: String, body: ByteArray, json: String?) {
    val queue = client.queue(queueName)
    val sent = if (json != null) queue.sendJson(json) else queue.send(body, SendOptions(attributes = ATTRIBUTES))
    emit("event" to "sent", "id" to sent.id())
    val outcome = sent.completed()
    emit("event" to "completed", "id" to sent.id(), "outcome" to outcome.name.lowercase())
}

fun main(args: Array<String>) {
    val usage = "usage: InteropPeerKt worker QUEUE [--hold] [--nack ERROR] | sender QUEUE [BODY_HEX | --json JSON_HEX] | reply QUEUE COUNT"
    val dsn = System.getenv("DATABASE_URL") ?: run {
        System.err.println("InteropPeer: DATABASE_URL is not set")
        exitProcess(2)
    }
    if (args.size < 2) {
        System.err.println(usage)
        exitProcess(2)
    }
    // A safety net only (the test bounds every wait itself): never hang a test run.
    Thread {
        Thread.sleep(60_000)
        System.err.println("InteropPeer: gave up after 60 s")
        Runtime.getRuntime().halt(3)
    }.apply { isDaemon = true }.start()

    try {
        runBlocking {
            val client = Client.connect(dsn)
            try {
                when (args[0]) {
                    "worker" -> {
                        val rest = args.drop(2)
                        val nackAt = rest.indexOf("--nack")
                        val nackError = if (nackAt >= 0) rest.getOrNull(nackAt + 1) ?: error(usage) else null
                        worker(client, args[1], hold = "--hold" in rest, nackError = nackError)
                    }
                    "sender" -> {
                        val json = if (args.getOrNull(2) == "--json") unhex(args.getOrNull(3) ?: error(usage)).decodeToString() else null
                        val body = if (json == null) args.getOrNull(2)?.let(::unhex) else null
                        sender(client, args[1], body ?: "hello from kotlin".toByteArray(), json)
                    }
                    "reply" -> {
                        val count = args.getOrNull(2)?.toIntOrNull()?.takeIf { it >= 1 } ?: error(usage)
                        replier(client, args[1], count)
                    }
                    else -> error(usage)
                }
            } finally {
                client.shutdown() // flushes the ack and its notification before the process exits
            }
            if (args[0] == "worker" || args[0] == "reply") emit("event" to "done")
        }
    } catch (e: Throwable) {
        System.err.println("InteropPeer: ${e::class.qualifiedName}: ${e.message}")
        e.printStackTrace()
        exitProcess(1)
    }
    exitProcess(0)
}
