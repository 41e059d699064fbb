// PcapIO: captures and libpcap ports (placeholder while the module lands).
import CPcap
