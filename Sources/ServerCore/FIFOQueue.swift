/// A first-in, first-out queue over an array: taking from the front moves a head index,
/// and the taken elements are dropped in bulk (all of them once the queue empties, or
/// the front half once it is mostly taken), so each element costs O(1) and the storage is
/// reused.
struct FIFOQueue<Element> {
    private var elements: [Element] = []
    private var head = 0

    var count: Int { elements.count - head }
    var isEmpty: Bool { head == elements.count }
    var first: Element? { isEmpty ? nil : elements[head] }
    var last: Element? { isEmpty ? nil : elements.last }
    /// The elements still queued, oldest first.
    var queued: ArraySlice<Element> { elements[head...] }

    mutating func append(_ element: Element) {
        elements.append(element)
    }

    /// Takes the oldest element.
    @discardableResult
    mutating func removeFirst() -> Element {
        precondition(!isEmpty, "removeFirst from an empty queue")
        let element = elements[head]
        head += 1
        dropTaken()
        return element
    }

    /// Changes every queued element in place.
    mutating func updateEach(_ body: (inout Element) -> Void) {
        for index in head..<elements.count { body(&elements[index]) }
    }

    mutating func removeAll() {
        elements.removeAll(keepingCapacity: true)
        head = 0
    }

    private mutating func dropTaken() {
        if head == elements.count {
            removeAll()
        } else if head > 1024 && head * 2 > elements.count {
            elements.removeFirst(head)
            head = 0
        }
    }
}
