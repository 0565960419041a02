// Waiting for completion: by the sender, or later by anyone who knows the ids. A tracked send (the
// default) records each message's outcome durably, so a waiter that starts late, or in another process,
// still learns it. `track = false` skips the record (fire and forget); waiting on such a send throws
// PgmqException.NotTracked, code `not_tracked`.
//
//   kotlinc ... -script examples/kotlin/completion.kts      (see seed.kts)
//
// Output:
//   sent 2 messages
//   processed invoice 1
//   processed invoice 2
//   outcomes, read by id: [COMPLETED, COMPLETED]
//   fire and forget: not_tracked
import io.pgmq.*
import kotlinx.coroutines.*

runBlocking<Unit> {
    val dsn = System.getenv("DATABASE_URL") ?: "postgres://postgres@localhost/postgres"
    Client.connect(dsn).use { client ->
        client.migrate()
        client.createQueue("examples-kotlin-completion", QueueOptions())
        val queue = client.queue("examples-kotlin-completion")

        val sent = queue.sendBatch(listOf(outgoing("invoice 1"), outgoing("invoice 2")))
        val ids = sent.ids() // store them, pass them on, wait for them anywhere
        println("sent ${ids.size} messages")

        val receiver = queue.receiver()
        repeat(ids.size) {
            val msg = receiver.next()!!
            println("processed ${msg.text}")
            msg.ack()
        }
        receiver.stop()

        // Another client (say, another process) waits for the same ids, after the fact.
        Client.connect(dsn).use { other ->
            val outcomes = other.queue("examples-kotlin-completion").waitForCompletion(ids)
            println("outcomes, read by id: ${ids.map { outcomes[it] }}")
        }

        val untracked = queue.send("metrics sample", SendOptions(track = false))
        try {
            untracked.completed()
        } catch (e: PgmqException.NotTracked) {
            println("fire and forget: ${e.code}")
        }
        client.deleteQueue("examples-kotlin-completion")
    }
}
