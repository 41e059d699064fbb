// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// CPcap: libpcap's headers for Swift, and nothing else (no logic). pcap.h pulls in the BPF
// program types and pcap_pkthdr; pcap_get_selectable_fd and pcap_inject are plain functions.
#ifndef SWBRIDGE_CPCAP_SHIM_H
#define SWBRIDGE_CPCAP_SHIM_H
#include <pcap/pcap.h>
#endif
