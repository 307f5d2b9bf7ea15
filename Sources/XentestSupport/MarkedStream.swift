/// One output stream of a shell that runs many commands, cut at the line that ends each: what a command wrote, up
/// to a limit, then `\nMARKER STATUS\n`, which the shell prints after it (`ShellSession`).
///
/// The marker holds a random nonce made for the command, so the command's own output cannot contain it; the newline
/// printed before it is the shell's, not the command's, and is not part of the output.
struct MarkedStream {
    /// What the command wrote, up to the limit.
    private(set) var kept: [UInt8] = []
    /// How many bytes past the limit were not kept.
    private(set) var dropped = 0
    /// Bytes not known yet to be output: they may be the start of the marker.
    private var pending: [UInt8] = []
    private var marker: [UInt8] = []
    private var limit = 0
    /// The status the marker carries, once it has arrived.
    private(set) var status: Int32?

    /// Starts a command's output: nothing kept, waiting for `\nMARKER `.
    mutating func expect(marker: String, limit: Int) {
        self = MarkedStream()
        self.marker = Array("\n\(marker) ".utf8)
        self.limit = limit
    }

    /// Takes bytes as they were read. Bytes after the marker (or before any command) belong to no command: dropped.
    mutating func append(_ bytes: ArraySlice<UInt8>) {
        guard status == nil, !marker.isEmpty else { return }
        pending.append(contentsOf: bytes)
        if let found = pending.firstRange(of: marker) {
            guard let end = pending[found.upperBound...].firstIndex(of: UInt8(ascii: "\n")) else { return }
            keep(pending[..<found.lowerBound])
            status = Int32(String(decoding: pending[found.upperBound..<end], as: UTF8.self)) ?? -1
            pending = []
            return
        }
        // Whatever cannot be the start of the marker is output.
        let undecided = marker.count - 1
        if pending.count > undecided {
            keep(pending[..<(pending.count - undecided)])
            pending.removeFirst(pending.count - undecided)
        }
    }

    /// The stream ended without the marker: what is pending was output too.
    mutating func finish() {
        keep(pending[...])
        pending = []
    }

    private mutating func keep(_ bytes: ArraySlice<UInt8>) {
        let room = max(0, limit - kept.count)
        kept.append(contentsOf: bytes.prefix(room))
        dropped += max(0, bytes.count - room)
    }

    /// The output as UTF-8 text, with a note of the bytes dropped past the limit (as `LocalCommandRunner` gives it).
    var text: String {
        String(decoding: kept, as: UTF8.self) + (dropped > 0 ? "\n[\(dropped) more bytes dropped]" : "")
    }
}
