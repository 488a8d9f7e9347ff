// The delivery worker: a swift-service-lifecycle `Service` whose consumers take deliveries off the
// in-memory queue. On graceful shutdown the queue stops taking events and is drained within the grace
// period; whatever is still queued when the period runs out is logged and counted as dropped.
import Logging
import ServiceLifecycle

struct CloudEventDeliveryWorker: Service {
    let queue: DeliveryQueue<DeliveryJob>
    let deliverer: CloudEventDeliverer
    /// Deliveries in flight at once.
    let concurrency: Int
    let logger: Logger

    func run() async {
        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { group in
                for _ in 0..<max(1, concurrency) {
                    group.addTask {
                        while !Task.isCancelled, let job = await queue.next() {
                            deliverer.metrics.recordQueueDepth(queue.count)
                            await deliverer.deliver(job)
                        }
                    }
                }
            }
        } onGracefulShutdown: {
            logger.info("draining the cloudevents delivery queue", metadata: ["queued": "\(queue.count)"])
            queue.finish()
        }
        let left = queue.removeAll()
        for job in left { deliverer.drop(job) }
        deliverer.metrics.recordQueueDepth(0)
        logger.info("cloudevents delivery worker stopped", metadata: ["dropped": "\(left.count)"])
    }
}
