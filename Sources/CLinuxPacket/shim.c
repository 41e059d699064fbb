// Intentionally empty: SwiftPM needs one source file for a C target; the shim is header-only.
#include "CLinuxPacket.h"
