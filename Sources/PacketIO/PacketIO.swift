// PacketIO: AF_PACKET and libpcap ports (see docs/ARCHITECTURE.md).
