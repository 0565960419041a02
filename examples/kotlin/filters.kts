// Attributes, filters and scheduled messages. Attributes are flat JSON scalars sent with a message; a
// receiver with a filter is only given the messages whose attributes match. A message sent with
// `delayMs` (or `scheduleAt`) waits in the table and is never delivered early.
//
//   kotlinc ... -script examples/kotlin/filters.kts      (see seed.kts)
//
// Output:
//   urgent: page the on-call engineer, priority 9
//   left: 3 messages, 2 ready, 1 scheduled
//   cancelled 3
import io.pgmq.*
import kotlinx.coroutines.*

runBlocking<Unit> {
    Client.connect(System.getenv("DATABASE_URL") ?: "postgres://postgres@localhost/postgres").use { client ->
        client.migrate()
        client.createQueue("examples-kotlin-filters", QueueOptions())
        val queue = client.queue("examples-kotlin-filters")

        val sent = queue.sendBatch(
            listOf(
                outgoing("disk at 81%", "kind" to "alert", "priority" to 3),
                outgoing("page the on-call engineer", "kind" to "alert", "priority" to 9),
                outgoing("weekly report", "kind" to "report"),
            ),
        )
        val later = queue.send("monthly report", SendOptions(delayMs = 3_600_000u))

        // Only alerts of priority 5 or more: infix and / or, or Filter.and(Filter.eq(...), Filter.ge(...)).
        val urgent = attr("kind") eq "alert" and (attr("priority") ge 5)
        val receiver = queue.receiver(ReceiveOptions(filter = urgent))
        val msg = receiver.next()!!
        println("urgent: ${msg.text}, priority ${msg.attributes["priority"]?.raw}")
        msg.ack()
        receiver.stop()

        val stats = queue.stats()
        println("left: ${stats.messages} messages, ${stats.ready} ready, ${stats.scheduled} scheduled")
        val cancelled = queue.cancel(sent.ids() + later.id()) // the acked one is no longer there
        println("cancelled ${cancelled.size}")
        client.deleteQueue("examples-kotlin-filters")
    }
}
