import Dispatch

extension DispatchTime {
    /// The seconds from this time to now, on the monotonic clock: a call's or a command's duration.
    package var secondsElapsed: Double { Double(DispatchTime.now().uptimeNanoseconds - uptimeNanoseconds) / 1e9 }
}
