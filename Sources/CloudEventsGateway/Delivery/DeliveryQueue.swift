// The bounded in-memory queue between the ingress handler and the delivery worker. Enqueueing a request's
// deliveries is all-or-nothing (a full queue refuses the whole request); consumers wait for work until the
// queue is finished and empty, or until their task is cancelled.
import Synchronization

final class DeliveryQueue<Element: Sendable>: Sendable {
    enum EnqueueResult: Equatable {
        case enqueued
        /// Not enough room for all the elements: nothing was enqueued.
        case full
        /// The queue no longer takes elements (shutdown).
        case finished
    }

    private struct State {
        var buffer: [Element] = []
        var head = 0
        var waiters: [Int: CheckedContinuation<Element?, Never>] = [:]
        var waiterOrder: [Int] = []
        var nextWaiterID = 0
        var finished = false

        var count: Int { buffer.count - head }

        mutating func popFirst() -> Element? {
            guard head < buffer.count else { return nil }
            let element = buffer[head]
            head += 1
            if head > 64, head * 2 > buffer.count {
                buffer.removeFirst(head)
                head = 0
            }
            return element
        }

        mutating func popWaiter() -> CheckedContinuation<Element?, Never>? {
            while !waiterOrder.isEmpty {
                let id = waiterOrder.removeFirst()
                if let waiter = waiters.removeValue(forKey: id) { return waiter }
            }
            return nil
        }
    }

    let capacity: Int
    private let state = Mutex(State())

    init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    /// Elements waiting for a consumer.
    var count: Int { state.withLock { $0.count } }

    /// Consumers waiting for an element.
    var waitingConsumers: Int { state.withLock { $0.waiters.count } }

    /// Enqueues all of `elements`, or none of them when they do not fit.
    func enqueue(contentsOf elements: [Element]) -> EnqueueResult {
        var handOver: [(CheckedContinuation<Element?, Never>, Element)] = []
        let result: EnqueueResult = state.withLock { state in
            if state.finished { return .finished }
            let direct = min(state.waiters.count, elements.count)
            guard state.count + elements.count - direct <= capacity else { return .full }
            var remaining = elements[...]
            while let element = remaining.first, let waiter = state.popWaiter() {
                handOver.append((waiter, element))
                remaining = remaining.dropFirst()
            }
            state.buffer.append(contentsOf: remaining)
            return .enqueued
        }
        for (waiter, element) in handOver { waiter.resume(returning: element) }
        return result
    }

    /// The next element; nil once the queue is finished and empty, or when the calling task is cancelled.
    func next() async -> Element? {
        let id = state.withLock { state in
            defer { state.nextWaiterID += 1 }
            return state.nextWaiterID
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Element?, Never>) in
                let immediate: Element?? = state.withLock { state in
                    if let element = state.popFirst() { return .some(element) }
                    if state.finished || Task.isCancelled { return .some(nil) }
                    state.waiters[id] = continuation
                    state.waiterOrder.append(id)
                    return .none
                }
                if let immediate { continuation.resume(returning: immediate) }
            }
        } onCancel: {
            let waiter = state.withLock { $0.waiters.removeValue(forKey: id) }
            waiter?.resume(returning: nil)
        }
    }

    /// Stops taking elements; consumers drain what is left, then get nil.
    func finish() {
        let waiters = state.withLock { state in
            state.finished = true
            defer {
                state.waiters.removeAll()
                state.waiterOrder.removeAll()
            }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume(returning: nil) }
    }

    /// Removes and returns everything still queued (after cancellation, to account for it).
    func removeAll() -> [Element] {
        state.withLock { state in
            defer {
                state.buffer.removeAll()
                state.head = 0
            }
            return Array(state.buffer[state.head...])
        }
    }
}
