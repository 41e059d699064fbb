// CPcap: libpcap's headers for Swift, and nothing else (no logic). pcap.h pulls in the BPF
// program types and pcap_pkthdr; pcap_get_selectable_fd and pcap_inject are plain functions.
#ifndef SWBRIDGE_CPCAP_SHIM_H
#define SWBRIDGE_CPCAP_SHIM_H
#include <pcap/pcap.h>
#endif
