// Request/reply over a queue: the caller sends a request and awaits the worker's reply in one call; the
// worker answers by acking with a result, which travels back with the message's outcome (in any
// language: a Python or Node worker answers the same way). A request whose worker gives up
// (dead-lettered, here on its only attempt) fails with PgmqException.RequestFailed, which carries the
// outcome; one nobody answers in time is cancelled, so no worker takes it late, and fails with
// PgmqException.Timeout. pgmq depends on no JSON library: the JSON here is text (`requestJson`,
// `msg.json()`, `msg.ackJson`, `reply.json()`), which any JSON library reads and writes.
//
//   kotlinc ... -script examples/kotlin/request.kts      (see seed.kts)
//
// Output:
//   quote for 3 x widget: {"total": 29.97} (application/json)
//   unknown item: request_failed DEAD_LETTERED
//   nobody answered: timeout; requests left queued: 0
import io.pgmq.*
import kotlinx.coroutines.*
import kotlin.time.Duration.Companion.milliseconds
import kotlin.time.Duration.Companion.seconds

val prices = mapOf("widget" to 9.99, "gadget" to 24.5)

/** The string and the number of a request such as {"item": "widget", "quantity": 3}. */
fun parseRequest(json: String): Pair<String, Int> {
    val item = Regex(""""item"\s*:\s*"([^"]*)"""").find(json)?.groupValues?.get(1) ?: ""
    val quantity = Regex(""""quantity"\s*:\s*(\d+)""").find(json)?.groupValues?.get(1)?.toInt() ?: 0
    return item to quantity
}

runBlocking<Unit> {
    Client.connect(System.getenv("DATABASE_URL") ?: "postgres://postgres@localhost/postgres").use { client ->
        client.migrate()
        client.createQueue("examples-kotlin-request", QueueOptions(maxDeliveryAttempts = 1u))
        client.createQueue("examples-kotlin-request-idle", QueueOptions())
        val quotes = client.queue("examples-kotlin-request")

        // The worker: prices each request and acks it with the quote as its JSON result.
        val worker = launch {
            quotes.messages().collect { msg ->
                val (item, quantity) = parseRequest(msg.json())
                val price = prices[item]
                if (price == null) {
                    msg.nack(error = "no price for $item") // its last attempt: dead-lettered
                } else {
                    msg.ackJson("""{"total": ${Math.round(price * quantity * 100) / 100.0}}""")
                }
            }
        }

        // The caller: one call, one reply.
        val reply = quotes.requestJson("""{"item": "widget", "quantity": 3}""", timeout = 5.seconds)
        println("quote for 3 x widget: ${reply.json()} (${reply.contentType})")

        try {
            quotes.requestJson("""{"item": "sprocket", "quantity": 1}""", timeout = 5.seconds)
        } catch (e: PgmqException.RequestFailed) {
            println("unknown item: ${e.code} ${e.outcome}")
        }

        // No worker reads this queue: after its timeout the request is cancelled (removed, never delivered).
        val idle = client.queue("examples-kotlin-request-idle")
        try {
            idle.request("anyone there?", timeout = 500.milliseconds)
        } catch (e: PgmqException.Timeout) {
            println("nobody answered: ${e.code}; requests left queued: ${idle.stats().messages}")
        }

        worker.cancelAndJoin()
        client.deleteQueue("examples-kotlin-request")
        client.deleteQueue("examples-kotlin-request-idle")
    }
}
