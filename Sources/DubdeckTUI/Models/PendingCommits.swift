import DubdeckCore

/// The changes a reviewer made that could not take the job lock yet: kept in order and retried
/// between keys, never dropped while the lock is only busy. A model the desk owns.
public struct PendingCommits {
    public private(set) var changes: [SegmentChange] = []

    public var isEmpty: Bool { changes.isEmpty }
    public var count: Int { changes.count }

    /// A new change behind the waiting ones (they go first, in order); false when none waits, so
    /// it is committed at once.
    mutating func queueBehind(_ change: SegmentChange) -> Bool {
        guard !changes.isEmpty else { return false }
        changes.append(change)
        return true
    }

    /// The lock was busy: `tried` is kept (unless it is what was already waiting).
    mutating func keep(_ tried: [SegmentChange]) {
        if changes.isEmpty { changes = tried }
    }

    /// Committed, or refused for a reason a retry would not change.
    mutating func settle() { changes.removeAll() }

    /// The banner while changes wait.
    var banner: String? {
        changes.isEmpty ? nil : "WAITING: another dubdeck is writing this job; \(changes.count) change(s) kept, retrying"
    }
}
