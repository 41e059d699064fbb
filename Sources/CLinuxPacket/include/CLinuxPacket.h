// A thin shim: Linux headers and macros Swift cannot import directly. No logic lives here.
#ifndef CLINUXPACKET_H
#define CLINUXPACKET_H
#ifdef __linux__
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <poll.h>
#include <net/if.h>
#include <linux/if_packet.h>
#include <linux/if_ether.h>
#include <linux/virtio_net.h>
#include <linux/sockios.h>
#include <stddef.h>

static inline unsigned int clp_tpacket_align(unsigned int x) { return TPACKET_ALIGN(x); }
static inline unsigned int clp_tpacket3_hdrlen(void) { return TPACKET3_HDRLEN; }
/// Offset of `tpacket_block_desc.hdr.bh1` (a union member Swift cannot take offsetof of).
static inline size_t clp_block_desc_bh1_offset(void) { return offsetof(struct tpacket_block_desc, hdr.bh1); }
/// Offset of `tpacket3_hdr.hv1` (a union member).
static inline size_t clp_tpacket3_hv1_offset(void) { return offsetof(struct tpacket3_hdr, hv1); }
static inline int clp_ioctl_ifreq(int fd, unsigned long request, struct ifreq *ifr) { return ioctl(fd, request, ifr); }
#endif
#endif
