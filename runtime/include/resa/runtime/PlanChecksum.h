// The checksum that tells a corrupted package from a good one.
//
// plan.pb is the serialized plan followed by its field `checksum` (13,
// fixed64), written as the file's last 9 bytes: a CRC-64 over every byte
// before it and over the weights file's header (its 8-byte length and JSON).
// With weights_bytes (in the plan) that covers the plan and the layout of
// every tensor, but not the tensor data: a package's weights are gigabytes,
// mapped and read lazily, and hashing them at every load would cost more than
// the load itself. Protobuf reads the trailing field like any other, so the
// file stays a plain Plan message.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace resa {

// CRC-64/XZ (ECMA-182 polynomial, reflected), continuing from `crc` (the
// result of an earlier call over the preceding bytes; 0 to start).
uint64_t crc64(std::string_view data, uint64_t crc = 0);

// The plan file's bytes: `plan` (a serialized Plan without a checksum) with
// the checksum field appended.
std::string sealPlan(std::string plan, std::string_view weightsHeader);

// Throws resa::Error naming `planPath` when `planFile` does not end with a
// checksum field, or its value does not match the bytes.
void verifyPlanChecksum(std::string_view planFile, std::string_view weightsHeader,
                        const std::string &planPath);

} // namespace resa
