// SPDX-License-Identifier: Apache-2.0
// Copyright (c) 2026 the swbridge authors. Licensed under the Apache License, Version 2.0: see LICENSE.

// A thin shim: Linux headers and macros Swift cannot import directly. No logic lives here:
// every helper is a macro, an offsetof, a non-variadic spelling of a variadic call, or an
// atomic access Swift cannot express on kernel-shared memory.
#ifndef CLINUXPACKET_H
#define CLINUXPACKET_H
#ifdef __linux__
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <stdint.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/eventfd.h>
#include <net/if.h>
#include <linux/if_packet.h>
#include <linux/if_ether.h>
#include <linux/virtio_net.h>
#include <linux/sockios.h>
#include <stddef.h>
#include <linux/capability.h>
#include <sys/prctl.h>

static inline unsigned int clp_tpacket_align(unsigned int x) { return TPACKET_ALIGN(x); }
static inline int clp_ioctl_ifreq(int fd, unsigned long request, struct ifreq *ifr) { return ioctl(fd, request, ifr); }

/// Offsets inside the V3 ring, checked against Swift's constants at port creation.
static inline size_t clp_block_status_offset(void) {
    return offsetof(struct tpacket_block_desc, hdr.bh1) + offsetof(struct tpacket_hdr_v1, block_status);
}
static inline size_t clp_block_num_pkts_offset(void) {
    return offsetof(struct tpacket_block_desc, hdr.bh1) + offsetof(struct tpacket_hdr_v1, num_pkts);
}
static inline size_t clp_block_first_offset(void) {
    return offsetof(struct tpacket_block_desc, hdr.bh1) + offsetof(struct tpacket_hdr_v1, offset_to_first_pkt);
}
static inline size_t clp_tpacket3_vlan_tci_offset(void) {
    return offsetof(struct tpacket3_hdr, hv1) + offsetof(struct tpacket_hdr_variant1, tp_vlan_tci);
}
static inline size_t clp_tpacket3_vlan_tpid_offset(void) {
    return offsetof(struct tpacket3_hdr, hv1) + offsetof(struct tpacket_hdr_variant1, tp_vlan_tpid);
}

/// Ownership: the kernel and user space hand V3 blocks over through `block_status` and V2
/// frames through `tp_status`; the reader needs acquire ordering (frame bytes after the
/// flag), the writer release ordering (the bridge's last access before the kernel's reuse).
static inline uint32_t clp_load_acquire_u32(const void *p) {
    return __atomic_load_n((const uint32_t *)p, __ATOMIC_ACQUIRE);
}
static inline void clp_store_release_u32(void *p, uint32_t v) { __atomic_store_n((uint32_t *)p, v, __ATOMIC_RELEASE); }

/// `struct mmsghdr` and `sendmmsg` are behind _GNU_SOURCE, which Swift's Glibc module does
/// not define: the same layout under another name and the raw system call.
struct clp_mmsghdr {
    struct msghdr msg_hdr;
    unsigned int msg_len;
};
static inline int clp_sendmmsg(int fd, struct clp_mmsghdr *vec, unsigned int count, int flags) {
    return (int)syscall(SYS_sendmmsg, fd, vec, count, flags);
}

/// CMSG_FIRSTHDR / CMSG_NXTHDR / CMSG_DATA / CMSG_SPACE are macros.
static inline struct cmsghdr *clp_cmsg_firsthdr(struct msghdr *m) { return CMSG_FIRSTHDR(m); }
static inline struct cmsghdr *clp_cmsg_nxthdr(struct msghdr *m, struct cmsghdr *c) { return CMSG_NXTHDR(m, c); }
static inline unsigned char *clp_cmsg_data(struct cmsghdr *c) { return CMSG_DATA(c); }
static inline size_t clp_cmsg_space(size_t length) { return CMSG_SPACE(length); }

/// capset(2) has no glibc wrapper (libcap is not a dependency): the raw system call with the
/// version-3 header. `keep` is a bit mask of capability numbers below 32 (CAP_NET_RAW is 13,
/// CAP_NET_ADMIN 12); it becomes the permitted and effective sets, inheritable is cleared.
static inline int clp_capset_low(uint32_t keep) {
    struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
    struct __user_cap_data_struct data[2] = { { keep, keep, 0 }, { 0, 0, 0 } };
    return (int)syscall(SYS_capset, &hdr, data);
}
/// prctl is variadic, which Swift cannot call.
static inline int clp_set_no_new_privs(void) { return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); }
#endif
#endif
#include "netlink_shim.h"
