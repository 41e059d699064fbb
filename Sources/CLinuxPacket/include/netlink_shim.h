// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// rtnetlink's headers for PacketIO's Netlink*.swift: the socket address (sockaddr_nl), the
// NETLINK_ROUTE protocol and its socket options, and the message, attribute and namespace-id
// numbers (RTM_*, IFLA_*, NETNSA_*) the Swift parser's own constants are checked against in
// the tests (NDA_*, NUD_*, NTF_* from neighbour.h for the VXLAN FDB). No logic.
// <linux/if_arp.h> is left out on purpose: it pulls in <linux/if.h>,
// which clashes with <net/if.h>; the ARPHRD_* numbers come from glibc's <net/if_arp.h>.
#ifndef CLINUXPACKET_NETLINK_SHIM_H
#define CLINUXPACKET_NETLINK_SHIM_H
#ifdef __linux__
#include <sys/socket.h>
#include <net/if_arp.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/if_link.h>
#include <linux/net_namespace.h>
#include <linux/neighbour.h>
#endif
#endif
