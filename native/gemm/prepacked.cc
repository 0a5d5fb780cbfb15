// The prepacked-weights cache (see prepacked.h): a few entries under one mutex.
#include "prepacked.h"

#include <algorithm>
#include <mutex>
#include <vector>

namespace lathe {
namespace gemm_prepacked {

namespace {

// Room for the dense layers of the models a process serves; larger weights are packed per call
// (their products are long enough to amortise it).
constexpr int64_t kMaxBytes = int64_t(32) << 20;
constexpr int64_t kMaxEntryBytes = int64_t(8) << 20;
// An entry not used in this many lookups may give its room to a new one (weights of a model no
// longer served, or freed); entries in use are never evicted, so a model larger than the cache
// keeps what fits instead of repacking in a cycle.
constexpr uint64_t kIdleLookups = 4096;
// Keys asked for once so far, in a ring: the oldest is forgotten first.
constexpr int kNoted = 64;

struct Entry {
  uint64_t key;
  std::shared_ptr<const PackedB> packed;
  uint64_t lastUse;
};

std::mutex mu;
std::vector<Entry> entries;
int64_t bytes = 0;
uint64_t lookups = 0;
uint64_t noted[kNoted] = {};
int nextNoted = 0;

int64_t bytesOf(const PackedB& p) { return int64_t(sizeof(float)) * p.K * p.nPad; }

bool matches(const PackedB& p, const gemm_internal::Kernel<float>& kernel, int64_t kcBlock, const float* B,
             int64_t ldb, int64_t K, int64_t N) {
  return p.kernel == &kernel && p.source == B && p.K == K && p.N == N && p.ldb == ldb && p.kcBlock == kcBlock;
}

void erase(size_t i) {
  bytes -= bytesOf(*entries[i].packed);
  entries.erase(entries.begin() + static_cast<std::ptrdiff_t>(i));
}

// Frees room for `need` bytes from idle entries, least recently used first.
bool makeRoom(int64_t need) {
  while (bytes + need > kMaxBytes) {
    size_t victim = entries.size();
    for (size_t i = 0; i < entries.size(); i++)
      if (lookups - entries[i].lastUse > kIdleLookups && (victim == entries.size() || entries[i].lastUse < entries[victim].lastUse))
        victim = i;
    if (victim == entries.size()) return false;
    erase(victim);
  }
  return true;
}

}  // namespace

std::shared_ptr<const PackedB> lookup(uint64_t key, const gemm_internal::Kernel<float>& kernel, int64_t kcBlock,
                                      const float* B, int64_t ldb, int64_t K, int64_t N) {
  if (key == 0 || K <= 0 || N <= 0) return nullptr;
  const int64_t nPad = (N + kernel.nr - 1) / kernel.nr * kernel.nr;
  const int64_t need = int64_t(sizeof(float)) * K * nPad;
  if (need > kMaxEntryBytes) return nullptr;
  std::lock_guard<std::mutex> lock(mu);
  lookups++;
  for (size_t i = 0; i < entries.size(); i++) {
    if (entries[i].key != key) continue;
    if (matches(*entries[i].packed, kernel, kcBlock, B, ldb, K, N)) {
      entries[i].lastUse = lookups;
      return entries[i].packed;
    }
    erase(i);  // the same contents for another kernel (a forced one) or address: packed anew
    break;
  }
  if (std::find(noted, noted + kNoted, key) == noted + kNoted) {
    noted[nextNoted] = key;
    nextNoted = (nextNoted + 1) % kNoted;
    return nullptr;
  }
  if (!makeRoom(need)) return nullptr;
  auto packed = std::make_shared<PackedB>();
  packed->kernel = &kernel;
  packed->source = B;
  packed->K = K, packed->N = N, packed->ldb = ldb, packed->kcBlock = kcBlock, packed->nPad = nPad;
  packed->data = static_cast<float*>(packed->storage.get(static_cast<size_t>(need)));
  for (int64_t pc = 0; pc < K; pc += kcBlock) {
    const int64_t kc = std::min(kcBlock, K - pc);
    kernel.packB(false, B + pc * ldb, ldb, kc, N, packed->data + pc * nPad);
  }
  entries.push_back({key, packed, lookups});
  bytes += need;
  return packed;
}

}  // namespace gemm_prepacked
}  // namespace lathe
