// A worker with retries and a dead-letter queue. `queue.messages()` is a cold Flow: each collector gets
// its own receiver. A nacked message comes back; after `maxDeliveryAttempts` (2 here) it moves, whole,
// to the dead-letter queue `dlq@<name>`, which is read like any other queue.
//
//   kotlinc ... -script examples/kotlin/worker.kts      (see seed.kts)
//
// Output:
//   outcomes: [COMPLETED, COMPLETED, DEAD_LETTERED]
//   dead letter: fail, after 2 attempts, last error: cannot do this one
import io.pgmq.*
import kotlinx.coroutines.*

runBlocking<Unit> {
    Client.connect(System.getenv("DATABASE_URL") ?: "postgres://postgres@localhost/postgres").use { client ->
        client.migrate()
        client.createQueue("examples-kotlin-worker", QueueOptions(maxDeliveryAttempts = 2u))
        val queue = client.queue("examples-kotlin-worker")

        // One statement for the whole batch; each message a body and its attributes.
        val batch = queue.sendBatch(
            listOf(
                OutgoingMessage("resize 1".toByteArray()),
                OutgoingMessage("resize 2".toByteArray(), attributes("priority" to 5)),
                OutgoingMessage("fail".toByteArray()),
            ),
        )

        // Four workers, each collecting the queue as a Flow (one receiver per collection).
        val workers = List(4) {
            launch {
                queue.messages().collect { msg ->
                    if (msg.text == "fail") {
                        msg.nack(error = "cannot do this one") // retried, then dead-lettered
                    } else {
                        msg.ack()
                    }
                }
            }
        }
        println("outcomes: ${batch.completed().values.sorted()}")
        workers.forEach { it.cancelAndJoin() } // cancelling a collector releases what it held

        val dlq = client.queue(dlqName("examples-kotlin-worker")).receiver()
        val dead = dlq.next()!!
        println("dead letter: ${dead.text}, after ${dead.deadLetterAttempts} attempts, last error: ${dead.lastError}")
        dead.ack()
        dlq.stop()
        client.deleteQueue("examples-kotlin-worker")
    }
}
