import XentestPlan
import XentestRun
import XentestSupport
/// Renders the libvirt networks a run makes for its guests (see libvirt's formatnetwork), for `virNetworkCreateXML`.
public enum NetworkXMLRenderer {
    /// An isolated network: a bridge of its own (libvirt names it `virbrN`) and no `<forward>`, so guests on it
    /// reach this host and each other, and nothing else. With `hostAddress`, the host has that address (/24) on the
    /// bridge, for pings both ways; without it, the network carries no IP at all.
    public static func isolated(name: String, hostAddress: String?) -> String {
        var xml = ["<network>", "  <name>\(xmlEscaped(name))</name>", "  <bridge stp='on' delay='0'/>"]
        if let hostAddress { xml.append("  <ip address='\(xmlEscaped(hostAddress))' prefix='24'/>") }
        xml.append("</network>")
        return xml.joined(separator: "\n") + "\n"
    }
}
