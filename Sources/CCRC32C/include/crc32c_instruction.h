#ifndef KV_CRC32C_INSTRUCTION_H
#define KV_CRC32C_INSTRUCTION_H

#include <stddef.h>
#include <stdint.h>

/* Whether this CPU has a CRC-32C instruction that kv_crc32c_instruction_update uses
   (SSE 4.2's crc32 on x86-64; elsewhere none, and the caller uses its tables). */
int kv_crc32c_instruction_available(void);

/* Feeds count bytes at bytes into the CRC-32C register crc (not inverted on the way in
   or out) with that instruction. Call only when kv_crc32c_instruction_available(). */
uint32_t kv_crc32c_instruction_update(uint32_t crc, const void *bytes, size_t count);

#endif
