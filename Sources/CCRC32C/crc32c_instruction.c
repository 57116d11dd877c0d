/* CRC-32C with the CPU's own instruction: SSE 4.2's crc32 computes exactly the
   Castagnoli CRC every record of a data directory carries (docs/STORAGE.md), eight
   bytes an instruction instead of eight table lookups. In C because Swift cannot enable
   a target feature for one function; the caller checks that the CPU has it. */

#include "crc32c_instruction.h"

#include <string.h>

#if defined(__x86_64__)
#include <cpuid.h>
#include <nmmintrin.h>

int kv_crc32c_instruction_available(void) {
    unsigned int eax, ebx, ecx, edx;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return 0;
    return (ecx & bit_SSE4_2) != 0;
}

__attribute__((target("sse4.2")))
uint32_t kv_crc32c_instruction_update(uint32_t crc, const void *bytes, size_t count) {
    const unsigned char *next = bytes;
    uint64_t wide = crc;
    while (count >= 8) {
        uint64_t word;
        memcpy(&word, next, 8); /* unaligned; the loop's order is the CRC's byte order */
        wide = _mm_crc32_u64(wide, word);
        next += 8;
        count -= 8;
    }
    uint32_t narrow = (uint32_t)wide;
    while (count > 0) {
        narrow = _mm_crc32_u8(narrow, *next);
        next += 1;
        count -= 1;
    }
    return narrow;
}

#else

int kv_crc32c_instruction_available(void) { return 0; }

/* Never called where kv_crc32c_instruction_available() says 0: a call is a bug, and a
   checksum returned unchanged would be a wrong one. */
uint32_t kv_crc32c_instruction_update(uint32_t crc, const void *bytes, size_t count) {
    (void)crc;
    (void)bytes;
    (void)count;
    __builtin_trap();
}

#endif
