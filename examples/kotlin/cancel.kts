// Cancellation: guaranteed while a message is queued, best effort once a worker holds it. A queued or
// scheduled message that is cancelled is removed and never delivered. A message being processed is
// signalled instead (`msg.awaitCancelled()` returns true), its ack does nothing, and it is never
// redelivered. Either way the outcome is CANCELLED.
//
//   kotlinc ... -script examples/kotlin/cancel.kts      (see seed.kts)
//
// Output:
//   scheduled message: CANCELLED
//   working on a long job
//   the worker saw the cancel
//   long job: CANCELLED
import io.pgmq.*
import kotlinx.coroutines.*

runBlocking<Unit> {
    Client.connect(System.getenv("DATABASE_URL") ?: "postgres://postgres@localhost/postgres").use { client ->
        client.migrate()
        client.createQueue("examples-kotlin-cancel", QueueOptions())
        val queue = client.queue("examples-kotlin-cancel")

        // 1. Queued (here: scheduled for tomorrow): removed, never delivered.
        val tomorrow = queue.send("reminder", SendOptions(delayMs = 86_400_000u))
        queue.cancel(listOf(tomorrow.id()))
        println("scheduled message: ${tomorrow.completed()}")

        // 2. Being processed: the worker stops its work when the message is cancelled.
        val job = queue.send("a long job")
        val receiver = queue.receiver()
        val msg = receiver.next()!!
        println("working on ${msg.text}")
        val work = launch { delay(60_000) } // the job
        launch { if (msg.awaitCancelled()) work.cancel() }
        queue.cancel(listOf(msg.id)) // here from the same process; usually from another one
        work.join()
        if (msg.isCancelled) println("the worker saw the cancel")
        msg.ack() // does nothing: the message is cancelled
        receiver.stop()
        println("long job: ${job.completed()}")
        client.deleteQueue("examples-kotlin-cancel")
    }
}
