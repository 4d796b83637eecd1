// NumpyRandomState against numbers NumPy 1.24 gives (Debian's python3-numpy).
// Every expected value below was printed by /usr/bin/python3, e.g.
//   np.random.RandomState(42).rand(5)              (floats printed with float.hex)
//   a = np.arange(10); np.random.RandomState(42).shuffle(a); a
//   np.frombuffer(np.random.RandomState(42).bytes(20), dtype='<u4')
//   np.random.RandomState(42).randint(0, 2**64 - 1, size=3, dtype=np.uint64)
#include "fm/data/numpy_random.h"

#include <gtest/gtest.h>

#include <numeric>
#include <vector>

namespace fm {
namespace {

TEST(NumpyRandomState, RawDrawsMatchNumpyWhenSeededWithInteger) {
  // RandomState(int) is init_genrand(seed): the first draws equal std::mt19937(42)'s.
  NumpyRandomState rng(42);
  const std::vector<uint32_t> expected = {1608637542u, 3421126067u, 4083286876u, 787846414u,
                                          3143890026u};
  for (uint32_t want : expected) EXPECT_EQ(rng.next_uint32(), want);
}

TEST(NumpyRandomState, RawDrawsMatchNumpyAtSeedExtremes) {
  NumpyRandomState zero(0);
  EXPECT_EQ(zero.next_uint32(), 2357136044u);
  EXPECT_EQ(zero.next_uint32(), 2546248239u);
  NumpyRandomState top(4294967295u);
  EXPECT_EQ(top.next_uint32(), 419326371u);
  EXPECT_EQ(top.next_uint32(), 479346978u);
}

TEST(NumpyRandomState, Uint64PutsFirstDrawInHighHalf) {
  NumpyRandomState rng(42);
  EXPECT_EQ(rng.next_uint64(), 6909045637428952499ull);
  EXPECT_EQ(rng.next_uint64(), 17537583593393853710ull);
  EXPECT_EQ(rng.next_uint64(), 13502904847239337031ull);
}

TEST(NumpyRandomState, RandMatchesNumpyBitForBit) {
  NumpyRandomState rng(42);
  std::vector<double> u(5);
  rng.rand(u.data(), 5);
  const std::vector<double> expected = {0x1.7f8771e5f51ecp-2, 0x1.e6c4068bbd654p-1,
                                        0x1.76c7e8f1e6751p-1, 0x1.32835d6632cb0p-1,
                                        0x1.3f86b37222184p-3};
  for (int i = 0; i < 5; ++i) EXPECT_EQ(u[i], expected[i]) << "rand()[" << i << "]";

  NumpyRandomState other(123456789);
  EXPECT_EQ(other.next_double(), 0x1.10cf7d7f66cbap-1);
  EXPECT_EQ(other.next_double(), 0x1.117a5a40d785fp-1);
  EXPECT_EQ(other.next_double(), 0x1.04e422ae53d0cp-1);
}

TEST(NumpyRandomState, ShuffleMatchesNumpyForArange10) {
  NumpyRandomState rng(42);
  std::vector<double> a(10);
  std::iota(a.begin(), a.end(), 0.0);
  rng.shuffle_rows(a.data(), 10, 1);
  EXPECT_EQ(a, (std::vector<double>{8, 1, 5, 0, 7, 2, 9, 4, 3, 6}));
}

TEST(NumpyRandomState, ShuffleMovesWholeRowsWhenArrayIs2D) {
  // b = np.arange(20.).reshape(10, 2); RandomState(42).shuffle(b): rows move as units.
  NumpyRandomState rng(42);
  std::vector<double> b(20);
  std::iota(b.begin(), b.end(), 0.0);
  rng.shuffle_rows(b.data(), 10, 2);
  const std::vector<double> first = {16, 2, 10, 0, 14, 4, 18, 8, 6, 12};
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(b[2 * i], first[i]) << "row " << i;
    EXPECT_EQ(b[2 * i + 1], first[i] + 1) << "row " << i;
  }
}

TEST(NumpyRandomState, ShuffleContinuesTheStreamAfterRand) {
  // r = RandomState(42); r.rand(3); r.shuffle(np.arange(10))
  NumpyRandomState rng(42);
  std::vector<double> skip(3);
  rng.rand(skip.data(), 3);
  std::vector<double> a(10);
  std::iota(a.begin(), a.end(), 0.0);
  rng.shuffle_rows(a.data(), 10, 1);
  EXPECT_EQ(a, (std::vector<double>{9, 7, 0, 3, 5, 8, 2, 1, 6, 4}));
}

TEST(NumpyRandomState, ShuffleMatchesNumpyWhenRejectionUsesWideMasks) {
  // a = np.arange(70000); RandomState(42).shuffle(a); a[:5], a[-5:]
  NumpyRandomState rng(42);
  std::vector<double> a(70000);
  std::iota(a.begin(), a.end(), 0.0);
  rng.shuffle_rows(a.data(), 70000, 1);
  EXPECT_EQ(std::vector<double>(a.begin(), a.begin() + 5),
            (std::vector<double>{46730, 48393, 41416, 34506, 43725}));
  EXPECT_EQ(std::vector<double>(a.end() - 5, a.end()),
            (std::vector<double>{37194, 6265, 54886, 860, 15795}));
}

TEST(NumpyRandomState, RandomIntervalStaysInRangeWhenMaxIsZeroOrOne) {
  NumpyRandomState rng(7);
  EXPECT_EQ(rng.random_interval(0), 0u);
  for (int i = 0; i < 100; ++i) EXPECT_LE(rng.random_interval(1), 1u);
}

}  // namespace
}  // namespace fm
