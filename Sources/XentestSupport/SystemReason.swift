import Foundation

extension Error {
    /// The system's words for why a file operation failed (`No such file or directory`), from Foundation's error or
    /// the POSIX error under it; the error's own description when there is none.
    ///
    /// Foundation's own wording can mislead: it calls a file it cannot map "You don't have permission", even for root.
    public var systemReason: String {
        let error = self as NSError
        let underlying = (error.userInfo[NSUnderlyingErrorKey] as? any Error).map { $0 as NSError }
        let posix = [error, underlying].compactMap { $0 }.first { $0.domain == NSPOSIXErrorDomain }
        return posix.map { String(cString: strerror(Int32($0.code))) } ?? "\(self)"
    }
}
