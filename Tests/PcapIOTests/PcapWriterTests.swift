// PcapIOTests: placeholder while the module lands.
import Testing
